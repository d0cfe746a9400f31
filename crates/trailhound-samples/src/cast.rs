//! The fixed cast of the sample archive: accounts, principals, their ids, IPs and
//! user agents. Detector tests and docs refer to these names.
//!
//! Countries are as `geo/country.mmdb` (geo-whois-asn-country) places them; the
//! generator does not read the database, the scratch check does.

pub const ORG: &str = "o-a1b2c3d4e5";
/// Bucket the S3 URIs inside records point at (not part of the written paths).
pub const LOG_BUCKET: &str = "acme-org-log-archive";
pub const PROD: &str = "111122223333";
pub const ML: &str = "444455556666";
pub const USE1: &str = "us-east-1";
pub const USW2: &str = "us-west-2";
pub const TRAIL: &str = "acme-org-trail";

pub const SONNET: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
pub const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";

// 1. support bot: ECS Fargate tasks behind three NAT gateways (US).
pub const BOT_ROLE: &str = "support-bot-role";
pub const BOT_ROLE_ID: &str = "AROAR7K2M4QQXZ3HVN5TB";
pub const BOT_NAT_IPS: [&str; 3] = ["44.216.112.37", "3.218.54.201", "54.210.87.14"];
pub const BOT_UA: &str = "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.225-213.878.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_ECS_FARGATE cfg/retry-mode#legacy Botocore/1.35.36";

// 2. summarizer: a Lambda function in a VPC, Bedrock through an interface endpoint.
pub const SUM_ROLE: &str = "summarizer-role";
pub const SUM_ROLE_ID: &str = "AROAR7K2M4QQW6DJPL2CE";
pub const SUM_SESSION: &str = "summarizer-fn";
pub const SUM_PRIVATE_IPS: [&str; 4] = ["10.20.1.37", "10.20.1.152", "10.20.2.88", "10.20.2.201"];
pub const SUM_VPCE: &str = "vpce-0c5d2e8a7b9f13e46";
pub const SUM_UA: &str = "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.224-234.880.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.5 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145";

// 3a. alice: IAM user in Germany (DE).
pub const ALICE: &str = "alice";
pub const ALICE_ID: &str = "AIDAR7K2M4QQT3FGXHWLA";
pub const ALICE_KEY: &str = "AKIAR7K2M4QQJV5SXE3D";
pub const ALICE_IPS: [&str; 3] = ["87.150.34.112", "91.64.18.203", "84.132.77.45"];
pub const ALICE_CLI: &str = "aws-cli/2.17.42 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.5 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#";
pub const ALICE_BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36";

// 3b. bob: IAM Identity Center (SSO) session in the UK (GB).
pub const BOB_ROLE: &str = "AWSReservedSSO_DataScientist_0123456789abcdef";
pub const BOB_ROLE_ID: &str = "AROAW2N6PHR4KQ7ZJT3YC";
pub const BOB_SESSION: &str = "bob@example.com";
pub const SSO_PATH: &str = "/aws-reserved/sso.amazonaws.com/";
pub const BOB_IPS: [&str; 2] = ["86.150.22.61", "81.106.44.7"];
pub const BOB_CLI: &str = "aws-cli/2.18.0 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#";
pub const BOB_BOTO: &str = "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.36";

// 4. training role: nightly SageMaker job reading the training bucket.
pub const TRAIN_ROLE: &str = "sagemaker-training-role";
pub const TRAIN_ROLE_ID: &str = "AROAW2N6PHR4H5MVBQXQF";
pub const TRAIN_BUCKET: &str = "acme-ml-training-data";
pub const TRAIN_PREFIX: &str = "datasets/v3/";
/// The dataset's parts are `part-00000` .. `part-00639`.
pub const TRAIN_PARTS: u64 = 640;
/// us-east-1 EC2 space the training instances get an address from (US).
pub const TRAIN_IP_PREFIX: &str = "3.227.";
pub const TRAIN_UA: &str = "[AmazonSageMaker aws-sdk-java/1.12.770 Linux/5.10.227-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.432-b06 java/1.8.0_432 vendor/Amazon.com_Inc. cfg/retry-mode/standard]";

// 5. CI: GitHub Actions OIDC role, hosted runners in Azure US.
pub const CI_ROLE: &str = "github-actions-deploy";
pub const CI_ROLE_ID: &str = "AROAW2N6PHR4C3LNG7DUE";
pub const CI_SUBJECT: &str = "repo:acme/feature-service:ref:refs/heads/main";
pub const CI_IP_PREFIXES: [&str; 6] = [
    "20.57.", "20.171.", "40.84.", "52.225.", "4.148.", "172.183.",
];
pub const CI_BUCKET: &str = "acme-deploy-artifacts";
pub const CI_CLI: &str = "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#";
pub const CI_OIDC_UA: &str = "aws-sdk-js/3.693.0 ua/2.1 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.18.0 api/sts#3.693.0 m/E configure-aws-credentials-for-github-actions";

// 7. a contractor with an IAM user in the ML account (US); attack C uses it.
pub const CONTRACTOR: &str = "temp-contractor";
pub const CONTRACTOR_ID: &str = "AIDAW2N6PHR4Y7TBK2MHS";
pub const CONTRACTOR_KEY: &str = "AKIAW2N6PHR4PX6GQ4LZ";
pub const CONTRACTOR_IPS: [&str; 2] = ["73.189.45.102", "24.130.66.12"];
/// The same first address written with a leading zero, as real logs sometimes do.
pub const CONTRACTOR_ODD_IP: &str = "073.189.45.102";
pub const CONTRACTOR_CLI: &str =
    "aws-cli/2.15.30 Python/3.11.8 Windows/10 exe/AMD64 prompt/off command/";

// Attack B source: outside every country alice ever used (RU).
pub const ATTACKER_IP: &str = "95.165.131.44";
pub const ATTACKER_UA: &str = "python-requests/2.31.0";

pub const APP_ASSETS_BUCKET: &str = "acme-app-assets";
pub const NOTEBOOK_BUCKET: &str = "acme-ml-notebooks";
