//! Realistic CloudTrail records for the benchmark: thousands of principals (role sessions
//! renewed every hour, IAM users, SSO users, AWS services), hundreds of IPs, three dozen
//! event names across S3 data events, Bedrock, STS, IAM, EC2, KMS, Secrets Manager,
//! DynamoDB, CloudWatch Logs and console sign-ins, with requestParameters,
//! responseElements, resources and tlsDetails of the sizes AWS writes (0.5-3 KB a record).
//!
//! Written straight into a byte buffer (no JSON tree): the generator runs inside the
//! benchmark command, so it has to be fast. Every string written is plain ASCII without
//! quotes or backslashes, so no escaping is needed.

use std::fmt::Write;

use crate::json::iso;
use crate::rng::Rng;

pub const ACCT: &str = "111122223333";
const OTHER_ACCTS: [&str; 3] = ["222233334444", "333344445555", "444455556666"];
const APP_ROLES: [&str; 40] = [
    "support-bot-role",
    "summarizer-role",
    "etl-role",
    "web-role",
    "api-gateway-role",
    "ingest-lambda-role",
    "search-indexer-role",
    "rag-retriever-role",
    "billing-role",
    "reporting-role",
    "ml-training-role",
    "ml-inference-role",
    "batch-export-role",
    "thumbnailer-role",
    "notifications-role",
    "audit-shipper-role",
    "backup-role",
    "ci-deploy-role",
    "terraform-role",
    "metrics-role",
    "orders-svc-role",
    "cart-svc-role",
    "payments-svc-role",
    "users-svc-role",
    "catalog-svc-role",
    "chat-frontend-role",
    "agent-orchestrator-role",
    "embeddings-role",
    "translate-role",
    "moderation-role",
    "data-lake-reader-role",
    "feature-store-role",
    "scheduler-role",
    "webhook-role",
    "crawler-role",
    "classifier-role",
    "dashboards-role",
    "kb-sync-role",
    "archive-role",
    "eks-node-role",
];
const SSO_SETS: [&str; 4] = ["Developer", "ReadOnly", "DataScientist", "Admin"];
const SERVICES: [&str; 12] = [
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "s3.amazonaws.com",
    "cloudformation.amazonaws.com",
    "glue.amazonaws.com",
    "sagemaker.amazonaws.com",
    "bedrock.amazonaws.com",
    "events.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "autoscaling.amazonaws.com",
    "backup.amazonaws.com",
];
const BUCKETS: [&str; 12] = [
    "acme-app-assets",
    "acme-data-lake",
    "acme-training-data",
    "acme-exports",
    "acme-logs-archive",
    "acme-backups",
    "acme-ml-models",
    "acme-user-uploads",
    "acme-reports",
    "acme-kb-documents",
    "acme-static-site",
    "acme-ci-artifacts",
];
const MODELS: [&str; 6] = [
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "amazon.titan-embed-text-v2:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "amazon.nova-pro-v1:0",
];
const SDK_UAS: [&str; 6] = [
    "Boto3/1.35.50 md/Botocore#1.35.50 ua/2.0 os/linux#6.8.0-1016-aws md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.50",
    "aws-sdk-java/2.28.16 Linux/5.10.227-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/adaptive",
    "aws-sdk-go-v2/1.32.2 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#arm64 api/s3#1.66.0",
    "aws-sdk-js/3.679.0 ua/2.1 os/linux#5.10.226-236.882.amzn2.x86_64 lang/js md/nodejs#20.17.0 api/bedrock-runtime#3.679.0",
    "aws-sdk-rust/1.3.3 os/linux lang/rust/1.82.0",
    "aws-internal/3 aws-sdk-java/1.12.771 Linux/5.10.226 OpenJDK_64-Bit_Server_VM/25.432-b06 java/1.8.0_432",
];
const HUMAN_UAS: [&str; 4] = [
    "aws-cli/2.18.10 md/awscrt#0.22.0 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#s3.ls",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "aws-cli/2.17.40 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#iam.list-roles",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    App,
    User,
    Sso,
    Service,
}

/// One caller: the identity written into every record it makes.
pub struct Principal {
    kind: Kind,
    /// The `userIdentity` object, written once.
    identity: String,
    ip: String,
    ua: &'static str,
}

/// The cast of one benchmark file: ~10,000 principals and 400 IPs, the same on every run.
pub struct Cast {
    pub principals: Vec<Principal>,
}

fn public_ip(rng: &mut Rng) -> String {
    let first = *rng.pick(&[3u64, 18, 34, 35, 44, 52, 54, 63, 73, 81, 98, 176, 185, 203]);
    format!(
        "{first}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

impl Cast {
    /// `hour_start`: the session creation times fall in the hour before it.
    pub fn new(seed: u64, hour_start: i64) -> Cast {
        let mut rng = Rng::stream(seed, "bench-cast");
        // 400 addresses: 250 VPC NAT / AWS, 150 offices and homes.
        let ips: Vec<String> = (0..400)
            .map(|i| {
                if i < 120 {
                    format!(
                        "10.{}.{}.{}",
                        rng.below(16),
                        rng.below(256),
                        1 + rng.below(254)
                    )
                } else {
                    public_ip(&mut rng)
                }
            })
            .collect();
        let mut principals = Vec::with_capacity(10_000);
        for i in 0..9_000usize {
            let role = APP_ROLES[i % APP_ROLES.len()];
            let acct = if i % 17 == 0 {
                OTHER_ACCTS[i % 3]
            } else {
                ACCT
            };
            let session = match i % 4 {
                0 => format!(
                    "botocore-session-{}",
                    hour_start - 3600 + rng.range(0, 3599)
                ),
                1 => format!("i-0{}", rng.hex(16)),
                2 => format!("{}-{}", role.trim_end_matches("-role"), rng.hex(32)),
                _ => format!(
                    "aws-go-sdk-{}",
                    1_790_000_000_000_000_000i64 + rng.range(0, 1 << 40)
                ),
            };
            let created = iso(hour_start - rng.range(60, 3600));
            let role_id = format!("AROA{}", rng.key_chars(17));
            let identity = format!(
                r#"{{"type":"AssumedRole","principalId":"{role_id}:{session}","arn":"arn:aws:sts::{acct}:assumed-role/{role}/{session}","accountId":"{acct}","accessKeyId":"{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{role_id}","arn":"arn:aws:iam::{acct}:role/{role}","accountId":"{acct}","userName":"{role}"}},"attributes":{{"creationDate":"{created}","mfaAuthenticated":"false"}}}}}}"#,
                key = rng.asia_key(),
            );
            principals.push(Principal {
                kind: Kind::App,
                identity,
                ip: ips[rng.index(250)].clone(),
                ua: SDK_UAS[rng.index(SDK_UAS.len())],
            });
        }
        for i in 0..300usize {
            let name = format!("user{i:03}.{}", rng.alnum(4).to_lowercase());
            let identity = format!(
                r#"{{"type":"IAMUser","principalId":"AIDA{id}","arn":"arn:aws:iam::{ACCT}:user/{name}","accountId":"{ACCT}","accessKeyId":"AKIA{key}","userName":"{name}"}}"#,
                id = rng.key_chars(17),
                key = rng.key_chars(16),
            );
            principals.push(Principal {
                kind: Kind::User,
                identity,
                ip: ips[250 + rng.index(150)].clone(),
                ua: HUMAN_UAS[rng.index(HUMAN_UAS.len())],
            });
        }
        for i in 0..300usize {
            let set = SSO_SETS[i % SSO_SETS.len()];
            let role = format!("AWSReservedSSO_{set}_{}", rng.hex(16));
            let session = format!("dev{i:03}@acme.example");
            let role_id = format!("AROA{}", rng.key_chars(17));
            let identity = format!(
                r#"{{"type":"AssumedRole","principalId":"{role_id}:{session}","arn":"arn:aws:sts::{ACCT}:assumed-role/{role}/{session}","accountId":"{ACCT}","accessKeyId":"{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{role_id}","arn":"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/{role}","accountId":"{ACCT}","userName":"{role}"}},"attributes":{{"creationDate":"{created}","mfaAuthenticated":"false"}}}}}}"#,
                key = rng.asia_key(),
                created = iso(hour_start - rng.range(60, 7200)),
            );
            principals.push(Principal {
                kind: Kind::Sso,
                identity,
                ip: ips[250 + rng.index(150)].clone(),
                ua: HUMAN_UAS[rng.index(HUMAN_UAS.len())],
            });
        }
        for s in SERVICES {
            principals.push(Principal {
                kind: Kind::Service,
                identity: format!(r#"{{"type":"AWSService","invokedBy":"{s}"}}"#),
                ip: s.to_string(),
                ua: s,
            });
        }
        Cast { principals }
    }

    /// A caller, skewed: a few principals make many calls, most make a few.
    pub fn pick(&self, rng: &mut Rng) -> &Principal {
        let n = self.principals.len() as f64;
        let u = rng.unit();
        let i = if rng.chance(0.7) { u * u * n } else { u * n };
        &self.principals[(i as usize).min(self.principals.len() - 1)]
    }
}

/// Appends one record (no separator) made by `p` at time `t`, delivered to account
/// `recipient` in `region`.
pub fn record(
    rng: &mut Rng,
    p: &Principal,
    t: i64,
    (recipient, region): (&str, &str),
    out: &mut String,
) {
    let (source, name, data) = event_for(rng, p.kind);
    let host = match source {
        "s3.amazonaws.com" => "acme-data-lake.s3.amazonaws.com".to_string(),
        "bedrock.amazonaws.com" => format!("bedrock-runtime.{region}.amazonaws.com"),
        "signin.amazonaws.com" => "signin.aws.amazon.com".to_string(),
        s => s.replace(".amazonaws.com", &format!(".{region}.amazonaws.com")),
    };
    let _ = write!(
        out,
        r#"{{"eventVersion":"1.10","userIdentity":{},"eventTime":"{}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{}","userAgent":"{}","requestParameters":"#,
        p.identity,
        iso(t),
        p.ip,
        p.ua,
    );
    params(rng, name, region, out);
    out.push_str(r#","responseElements":"#);
    response(rng, name, t, out);
    if data {
        let _ = write!(
            out,
            r#","additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"{}","bytesTransferredOut":{}}}"#,
            rng.b64(76),
            rng.range(200, 4_000_000)
        );
    }
    let _ = write!(
        out,
        r#","requestID":"{}","eventID":"{}","readOnly":{},"#,
        rng.upper_hex(16),
        rng.uuid(),
        name.starts_with("Get")
            || name.starts_with("List")
            || name.starts_with("Describe")
            || name.starts_with("Head")
    );
    if data {
        let _ = write!(
            out,
            r#""resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::acme-data-lake/part-{0}.parquet"}},{{"accountId":"{ACCT}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::acme-data-lake"}}],"#,
            rng.hex(12)
        );
    }
    let category = if data { "Data" } else { "Management" };
    let _ = write!(
        out,
        r#""eventType":"{}","managementEvent":{},"recipientAccountId":"{recipient}","eventCategory":"{category}","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}}}"#,
        if name == "ConsoleLogin" {
            "AwsConsoleSignIn"
        } else {
            "AwsApiCall"
        },
        !data,
    );
}

/// (eventSource, eventName, is an S3 data event).
fn event_for(rng: &mut Rng, kind: Kind) -> (&'static str, &'static str, bool) {
    const S3: &str = "s3.amazonaws.com";
    const BR: &str = "bedrock.amazonaws.com";
    const KMS: &str = "kms.amazonaws.com";
    const STS: &str = "sts.amazonaws.com";
    const IAM: &str = "iam.amazonaws.com";
    const EC2: &str = "ec2.amazonaws.com";
    let r = rng.below(100);
    match kind {
        Kind::App => match r {
            0..=17 => (S3, "GetObject", true),
            18..=25 => (S3, "PutObject", true),
            26..=31 => (S3, "HeadObject", true),
            32..=34 => (S3, "ListObjects", true),
            35 => (S3, "DeleteObject", true),
            36..=49 => (BR, "InvokeModel", false),
            50..=55 => (BR, "Converse", false),
            56..=58 => (BR, "InvokeModelWithResponseStream", false),
            59..=66 => (KMS, "Decrypt", false),
            67..=71 => (KMS, "GenerateDataKey", false),
            72..=75 => (STS, "GetCallerIdentity", false),
            76..=79 => (STS, "AssumeRole", false),
            80..=83 => ("secretsmanager.amazonaws.com", "GetSecretValue", false),
            84..=87 => ("dynamodb.amazonaws.com", "DescribeTable", false),
            88..=91 => ("logs.amazonaws.com", "CreateLogStream", false),
            92..=95 => (EC2, "DescribeInstances", false),
            96..=97 => ("ssm.amazonaws.com", "GetParameter", false),
            _ => ("sqs.amazonaws.com", "GetQueueAttributes", false),
        },
        Kind::User | Kind::Sso => match r {
            0..=5 => ("signin.amazonaws.com", "ConsoleLogin", false),
            6..=13 => (IAM, "ListRoles", false),
            14..=19 => (IAM, "GetRole", false),
            20..=23 => (IAM, "ListAttachedRolePolicies", false),
            24..=26 => (IAM, "GetPolicyVersion", false),
            27..=29 => (IAM, "ListUsers", false),
            30..=37 => (EC2, "DescribeInstances", false),
            38..=42 => (EC2, "DescribeSecurityGroups", false),
            43..=46 => (EC2, "DescribeVolumes", false),
            47..=48 => (EC2, "CreateTags", false),
            49 => (EC2, "RunInstances", false),
            50..=55 => (S3, "ListBuckets", false),
            56..=59 => (S3, "GetBucketPolicy", false),
            60..=65 => (BR, "ListFoundationModels", false),
            66..=69 => (BR, "GetFoundationModel", false),
            70..=74 => (BR, "Converse", false),
            75..=79 => ("cloudformation.amazonaws.com", "DescribeStacks", false),
            80..=84 => (KMS, "DescribeKey", false),
            85..=89 => (STS, "GetCallerIdentity", false),
            90..=94 => ("logs.amazonaws.com", "FilterLogEvents", false),
            _ => ("lambda.amazonaws.com", "ListFunctions20150331", false),
        },
        Kind::Service => match r {
            0..=39 => (STS, "AssumeRole", false),
            40..=69 => (KMS, "Decrypt", false),
            70..=84 => (KMS, "Encrypt", false),
            _ => (EC2, "CreateNetworkInterface", false),
        },
    }
}

fn params(rng: &mut Rng, name: &str, region: &str, out: &mut String) {
    let _ = match name {
        "GetObject" | "PutObject" | "HeadObject" | "DeleteObject" => write!(
            out,
            r#"{{"bucketName":"acme-data-lake","Host":"acme-data-lake.s3.{region}.amazonaws.com","key":"tables/events/dt=2026-10-01/hour={:02}/part-{}-c000.snappy.parquet"}}"#,
            rng.below(24),
            rng.uuid()
        ),
        "ListObjects" => write!(
            out,
            r#"{{"bucketName":"{}","Host":"s3.{region}.amazonaws.com","prefix":"tables/events/dt=2026-10-01/","list-type":"2","max-keys":"1000","encoding-type":"url"}}"#,
            rng.pick(&BUCKETS)
        ),
        "InvokeModel" | "InvokeModelWithResponseStream" | "Converse" | "GetFoundationModel" => {
            write!(out, r#"{{"modelId":"{}"}}"#, rng.pick(&MODELS))
        }
        "Decrypt" | "GenerateDataKey" | "Encrypt" | "DescribeKey" => write!(
            out,
            r#"{{"keyId":"arn:aws:kms:{region}:{ACCT}:key/{}","encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{{"aws:s3:arn":"arn:aws:s3:::{}/exports/{}","aws:lambda:FunctionArn":"arn:aws:lambda:{region}:{ACCT}:function:acme-fn-{}"}}}}"#,
            rng.uuid(),
            rng.pick(&BUCKETS),
            rng.hex(20),
            rng.below(200)
        ),
        "AssumeRole" => write!(
            out,
            r#"{{"roleArn":"arn:aws:iam::{ACCT}:role/{}","roleSessionName":"botocore-session-{}","durationSeconds":3600,"tags":[{{"key":"team","value":"platform"}},{{"key":"cost-center","value":"cc-{}"}}]}}"#,
            rng.pick(&APP_ROLES),
            rng.range(1_790_000_000, 1_790_900_000),
            rng.below(90)
        ),
        "GetRole" | "ListAttachedRolePolicies" => {
            write!(out, r#"{{"roleName":"{}"}}"#, rng.pick(&APP_ROLES))
        }
        "GetPolicyVersion" => write!(
            out,
            r#"{{"policyArn":"arn:aws:iam::{ACCT}:policy/acme-{}-policy","versionId":"v{}"}}"#,
            rng.alnum(6),
            1 + rng.below(9)
        ),
        "DescribeInstances" | "DescribeSecurityGroups" | "DescribeVolumes" => write!(
            out,
            r#"{{"instancesSet":{{}},"filterSet":{{"items":[{{"name":"tag:Environment","valueSet":{{"items":[{{"value":"production"}}]}}}},{{"name":"instance-state-name","valueSet":{{"items":[{{"value":"running"}}]}}}}]}},"maxResults":1000}}"#
        ),
        "RunInstances" => write!(
            out,
            r#"{{"instancesSet":{{"items":[{{"imageId":"ami-0{}","minCount":1,"maxCount":1}}]}},"instanceType":"m7g.large","blockDeviceMapping":{{}},"monitoring":{{"enabled":false}},"disableApiTermination":false,"disableApiStop":false,"clientToken":"{}","subnetId":"subnet-0{}","tagSpecificationSet":{{"items":[{{"resourceType":"instance","tags":[{{"key":"Name","value":"build-runner"}}]}}]}}}}"#,
            rng.hex(16),
            rng.uuid(),
            rng.hex(16)
        ),
        "CreateTags" => write!(
            out,
            r#"{{"resourcesSet":{{"items":[{{"resourceId":"i-0{}"}}]}},"tagSet":{{"items":[{{"key":"owner","value":"platform"}}]}}}}"#,
            rng.hex(16)
        ),
        "GetBucketPolicy" => write!(
            out,
            r#"{{"bucketName":"{}","Host":"s3.{region}.amazonaws.com","policy":""}}"#,
            rng.pick(&BUCKETS)
        ),
        "GetSecretValue" => write!(
            out,
            r#"{{"secretId":"arn:aws:secretsmanager:{region}:{ACCT}:secret:prod/{}-{}"}}"#,
            rng.pick(&APP_ROLES),
            rng.alnum(6)
        ),
        "DescribeTable" => write!(out, r#"{{"tableName":"acme-{}"}}"#, rng.alnum(8)),
        "CreateLogStream" => write!(
            out,
            r#"{{"logGroupName":"/aws/lambda/acme-fn-{}","logStreamName":"2026/10/01/[$LATEST]{}"}}"#,
            rng.below(200),
            rng.hex(32)
        ),
        "GetParameter" => write!(
            out,
            r#"{{"name":"/acme/prod/{}","withDecryption":true}}"#,
            rng.alnum(10)
        ),
        "GetQueueAttributes" => write!(
            out,
            r#"{{"queueUrl":"https://sqs.{region}.amazonaws.com/{ACCT}/acme-{}","attributeNames":["All"]}}"#,
            rng.alnum(8)
        ),
        "FilterLogEvents" => write!(
            out,
            r#"{{"logGroupName":"/aws/lambda/acme-fn-{}","startTime":1790812800000,"filterPattern":"ERROR","interleaved":true}}"#,
            rng.below(200)
        ),
        "CreateNetworkInterface" => write!(
            out,
            r#"{{"subnetId":"subnet-0{}","description":"AWS Lambda VPC ENI-acme-fn","groupSet":{{"items":[{{"groupId":"sg-0{}"}}]}},"privateIpAddressesSet":{{}},"ipv6AddressCount":0,"clientToken":"{}"}}"#,
            rng.hex(16),
            rng.hex(16),
            rng.uuid()
        ),
        _ => {
            out.push_str("null");
            Ok(())
        }
    };
}

fn response(rng: &mut Rng, name: &str, t: i64, out: &mut String) {
    let token_len = 4 * rng.range(90, 220) as usize;
    let _ = match name {
        "AssumeRole" => write!(
            out,
            r#"{{"credentials":{{"accessKeyId":"ASIA{}","sessionToken":"{}","expiration":"{}"}},"assumedRoleUser":{{"assumedRoleId":"AROA{}:botocore-session-{}","arn":"arn:aws:sts::{ACCT}:assumed-role/{}/botocore-session-{}"}},"packedPolicySize":{}}}"#,
            rng.key_chars(16),
            rng.b64(token_len),
            iso(t + 3600),
            rng.key_chars(17),
            t,
            rng.pick(&APP_ROLES),
            t,
            rng.below(40)
        ),
        "GenerateDataKey" | "Decrypt" | "Encrypt" => out.write_str("null"),
        "ConsoleLogin" => out.write_str(r#"{"ConsoleLogin":"Success"}"#),
        "RunInstances" => write!(
            out,
            r#"{{"requestId":"{}","reservationId":"r-0{}","ownerId":"{ACCT}","groupSet":{{}},"instancesSet":{{"items":[{{"instanceId":"i-0{}","imageId":"ami-0{}","instanceState":{{"code":0,"name":"pending"}},"privateDnsName":"ip-10-0-{}-{}.ec2.internal","amiLaunchIndex":0,"productCodes":{{}},"instanceType":"m7g.large","launchTime":{},"placement":{{"availabilityZone":"us-east-1a","tenancy":"default"}},"monitoring":{{"state":"disabled"}},"subnetId":"subnet-0{}","vpcId":"vpc-0{}","privateIpAddress":"10.0.{}.{}","stateReason":{{"code":"pending","message":"pending"}},"architecture":"arm64","rootDeviceType":"ebs","rootDeviceName":"/dev/xvda","blockDeviceMapping":{{}},"virtualizationType":"hvm","clientToken":"{}","groupSet":{{"items":[{{"groupId":"sg-0{}","groupName":"default"}}]}},"sourceDestCheck":true,"networkInterfaceSet":{{"items":[{{"networkInterfaceId":"eni-0{}","subnetId":"subnet-0{}","vpcId":"vpc-0{}","ownerId":"{ACCT}","status":"in-use","macAddress":"0e:{}:{}:{}:{}:{}","privateIpAddress":"10.0.{}.{}","sourceDestCheck":true,"interfaceType":"interface"}}]}},"ebsOptimized":true,"enaSupport":true,"metadataOptions":{{"state":"pending","httpTokens":"required","httpPutResponseHopLimit":2,"httpEndpoint":"enabled"}}}}]}}}}"#,
            rng.uuid(),
            rng.hex(16),
            rng.hex(16),
            rng.hex(16),
            rng.below(256),
            rng.below(256),
            t * 1000,
            rng.hex(16),
            rng.hex(16),
            rng.below(256),
            rng.below(256),
            rng.uuid(),
            rng.hex(16),
            rng.hex(16),
            rng.hex(16),
            rng.hex(16),
            rng.hex(2),
            rng.hex(2),
            rng.hex(2),
            rng.hex(2),
            rng.hex(2),
            rng.below(256),
            rng.below(256)
        ),
        "CreateNetworkInterface" => write!(
            out,
            r#"{{"requestId":"{}","networkInterface":{{"networkInterfaceId":"eni-0{}","subnetId":"subnet-0{}","vpcId":"vpc-0{}","availabilityZone":"us-east-1b","description":"AWS Lambda VPC ENI-acme-fn","ownerId":"{ACCT}","requesterId":"{}","requesterManaged":false,"status":"pending","macAddress":"12:{}:{}:{}:{}:{}","privateIpAddress":"10.0.{}.{}","sourceDestCheck":true,"interfaceType":"lambda","groupSet":{{"items":[{{"groupId":"sg-0{}","groupName":"lambda-sg"}}]}},"privateIpAddressesSet":{{"item":[{{"privateIpAddress":"10.0.{}.{}","primary":true}}]}},"tagSet":{{}}}}}}"#,
            rng.uuid(),
            rng.hex(16),
            rng.hex(16),
            rng.hex(16),
            rng.key_chars(21),
            rng.hex(2),
            rng.hex(2),
            rng.hex(2),
            rng.hex(2),
            rng.hex(2),
            rng.below(256),
            rng.below(256),
            rng.hex(16),
            rng.below(256),
            rng.below(256)
        ),
        "CreateTags" => out.write_str(r#"{"_return":true}"#),
        "CreateLogStream" => out.write_str("null"),
        _ => out.write_str("null"),
    };
}
