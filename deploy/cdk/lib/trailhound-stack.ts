// trailhound CDK stack: the same resources, parameters and conditions as
// deploy/sam/template.yaml (deploy/test.sh compares the two templates).
//
// Deploy-time choices are CloudFormation parameters (not synth-time context),
// so one synthesized template serves every account, exactly like the SAM one:
//   npx cdk deploy --parameters LogBucketName=my-log-archive --parameters TriggerMode=SQS
// Most resources are L1 (Cfn*) constructs because they are conditional or need
// exact policies; L2 constructs are used where they add nothing hidden.
import * as path from 'node:path';
import {
  Aws, CfnCondition, CfnMapping, CfnOutput, CfnParameter, Duration, Fn,
  ICfnConditionExpression, RemovalPolicy, Stack, StackProps, Token,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface TrailhoundStackProps extends StackProps {
  /** Folder holding the arm64 `bootstrap` (target/lambda/bootstrap from cargo-lambda). */
  readonly bootstrapDir: string;
  /** Folder whose content becomes /opt in Lambda: it must hold geo/country.mmdb. */
  readonly geoLayerDir: string;
}

/** Path of the geo database inside the Lambda environment (layer content is under /opt). */
export const GEOIP_PATH = '/opt/geo/country.mmdb';

/** SQS visibility timeout = 6 x function timeout, for each allowed timeout. */
const TIMEOUTS = [60, 120, 180, 300, 600, 900];

/** CloudFormation cannot loop over a list: LogPrefixes is read through 5 slots. */
const PREFIX_SLOTS = 5;

export class TrailhoundStack extends Stack {
  constructor(scope: Construct, id: string, props: TrailhoundStackProps) {
    super(scope, id, { analyticsReporting: false, ...props });

    // ----------------------------------------------------------------------
    // Parameters (same names, types, defaults and constraints as the SAM template)
    // ----------------------------------------------------------------------
    const p = (name: string, o: ConstructorParameters<typeof CfnParameter>[2]) => new CfnParameter(this, name, o);
    const logBucketName = p('LogBucketName', {
      type: 'String', allowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
      description: 'Name of the existing central log bucket (never created or modified by this stack).',
    });
    const logPrefixes = p('LogPrefixes', {
      type: 'CommaDelimitedList', default: 'AWSLogs/',
      description: 'Up to 5 comma-separated key prefixes holding CloudTrail and Bedrock invocation logs (prefix match, e.g. "AWSLogs/,bedrock/AWSLogs/"). The function may read only these prefixes; extra entries are ignored.',
    });
    const logBucketKmsKeyArn = p('LogBucketKmsKeyArn', {
      type: 'String', default: '', allowedPattern: '^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$',
      description: 'ARN of the KMS key encrypting the log objects (SSE-KMS). Empty = SSE-S3.',
    });
    const triggerMode = p('TriggerMode', {
      type: 'String', default: 'EventBridge', allowedValues: ['EventBridge', 'SQS'],
      description: 'EventBridge = rule on S3 "Object Created" (enable EventBridge notifications on the bucket). SQS = a bucket that already sends S3 notifications (directly or through SNS). Both feed the trigger queue, which delivers batches of up to 50 objects (one group commit each).',
    });
    const sourceTopicArn = p('SourceTopicArn', {
      type: 'String', default: '', allowedPattern: '^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$',
      description: "SQS mode only - an existing SNS topic that receives the bucket's S3 notifications; the queue subscribes to it. Empty = none.",
    });
    const detectorsLocation = p('DetectorsLocation', {
      type: 'String', default: '', allowedPattern: '^$|^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*$',
      description: 'Empty = detectors embedded in the binary; else s3://bucket/prefix/ holding detector TOML files.',
    });
    const memorySize = p('MemorySize', {
      type: 'Number', default: 1024, minValue: 128, maxValue: 10240, description: 'Function memory (MB).',
    });
    const timeout = p('Timeout', {
      type: 'Number', default: '300', allowedValues: TIMEOUTS.map(String), description: 'Function timeout (seconds).',
    });
    const reservedConcurrency = p('ReservedConcurrency', {
      type: 'Number', default: 0, minValue: 0,
      description: 'Reserved concurrent executions for the function. 0 = unset (unreserved pool).',
    });
    const logRetentionDays = p('LogRetentionDays', {
      type: 'Number', default: '30',
      allowedValues: ['1', '3', '5', '7', '14', '30', '60', '90', '120', '150', '180', '365', '400', '545', '731', '1096', '1827', '2192', '2557', '2922', '3288', '3653'],
      description: "Retention of the function's log group.",
    });
    const minSeverity = p('MinSeverity', {
      type: 'Number', default: 4, minValue: 1, maxValue: 10,
      description: 'TRAILHOUND_MIN_SEVERITY - findings below this severity are not published.',
    });
    const learningDays = p('LearningDays', {
      type: 'Number', default: 7, minValue: 1,
      description: 'TRAILHOUND_LEARNING_DAYS - baseline learning period per principal.',
    });
    const logLevel = p('LogLevel', {
      type: 'String', default: 'info',
      description: 'RUST_LOG filter (error, warn, info, debug, trace or a tracing directive).',
    });
    const alertEmail = p('AlertEmail', {
      type: 'String', default: '',
      description: 'Email address subscribed to findings (confirm the subscription mail). Empty = none.',
    });
    p('EmailMinSeverity', {
      type: 'Number', default: 7, minValue: 1, maxValue: 10,
      description: 'Only findings with severity >= this are emailed (alarm notifications are always emailed).',
    });
    const alertEndpoint = p('AlertEndpoint', {
      type: 'String', default: '', allowedPattern: '^$|^https://.+$|^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$',
      description: 'Second subscription for chat/ticketing - an https:// URL or an SQS queue ARN. Empty = none.',
    });
    const maxLagSeconds = p('MaxLagSeconds', {
      type: 'Number', default: 3600, minValue: 60,
      description: 'Alarm when the maximum processing lag (log event time to processing) over 15 minutes exceeds this.',
    });
    const enableAlarmActions = p('EnableAlarmActions', {
      type: 'String', default: 'true', allowedValues: ['true', 'false'],
      description: 'Send CloudWatch alarm state changes to the findings topic.',
    });
    const securityHub = p('SecurityHub', {
      type: 'String', default: 'false', allowedValues: ['true', 'false'],
      description: "TRAILHOUND_SECURITYHUB - import findings into AWS Security Hub (ASFF, the account's default product). Security Hub must be enabled in this account and region.",
    });
    const eventBusName = p('EventBusName', {
      type: 'String', default: '',
      allowedPattern: '^$|^[A-Za-z0-9._-]{1,256}$|^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256}$',
      description: 'TRAILHOUND_EVENT_BUS - an EXISTING EventBridge bus (name or ARN) to put each finding on (source "trailhound", detail-type "Trailhound Finding"). Empty = none.',
    });
    const snsFormat = p('SnsFormat', {
      type: 'String', default: 'default', allowedValues: ['default', 'chatbot'],
      description: "TRAILHOUND_SNS_FORMAT - chatbot = the topic's default message is an Amazon Q Developer in chat applications (AWS Chatbot) custom notification; SQS and Lambda subscribers still get the finding JSON.",
    });

    const queueVisibility = new CfnMapping(this, 'QueueVisibility', {
      mapping: Object.fromEntries(TIMEOUTS.map((t) => [String(t), { Seconds: 6 * t }])),
    });

    // ----------------------------------------------------------------------
    // Conditions
    // ----------------------------------------------------------------------
    const cond = (name: string, expression: ICfnConditionExpression) => new CfnCondition(this, name, { expression });
    const notEmpty = (v: string) => Fn.conditionNot(Fn.conditionEquals(v, ''));
    const isEventBridge = cond('IsEventBridge', Fn.conditionEquals(triggerMode.valueAsString, 'EventBridge'));
    const isSqs = cond('IsSqs', Fn.conditionEquals(triggerMode.valueAsString, 'SQS'));
    const useSourceTopic = cond('UseSourceTopic', Fn.conditionAnd(isSqs, notEmpty(sourceTopicArn.valueAsString)));
    const hasLogKey = cond('HasLogKey', notEmpty(logBucketKmsKeyArn.valueAsString));
    const hasDetectors = cond('HasDetectorsLocation', notEmpty(detectorsLocation.valueAsString));
    const hasReserved = cond('HasReservedConcurrency',
      Fn.conditionNot(Fn.conditionEquals(reservedConcurrency.valueAsNumber, 0)));
    const hasEmail = cond('HasAlertEmail', notEmpty(alertEmail.valueAsString));
    const hasEndpoint = cond('HasAlertEndpoint', notEmpty(alertEndpoint.valueAsString));
    const endpointIsSqs = cond('AlertEndpointIsSqs',
      Fn.conditionEquals(Fn.select(0, Fn.split(':', alertEndpoint.valueAsString)), 'arn'));
    const alarmActions = cond('AlarmActionsEnabled', Fn.conditionEquals(enableAlarmActions.valueAsString, 'true'));
    const enableSecurityHub = cond('EnableSecurityHub', Fn.conditionEquals(securityHub.valueAsString, 'true'));
    const hasEventBus = cond('HasEventBus', notEmpty(eventBusName.valueAsString));
    const eventBusIsArn = cond('EventBusIsArn',
      Fn.conditionEquals(Fn.select(0, Fn.split(':', eventBusName.valueAsString)), 'arn'));

    // Prefix slot i of LogPrefixes, padded with empty entries ("" = unused slot).
    const prefix = (i: number) =>
      Fn.select(i, Fn.split(',', Fn.sub('${P},,,,,', { P: Fn.join(',', logPrefixes.valueAsList) })));
    const slots = [...Array(PREFIX_SLOTS).keys()].map((i) => ({
      value: prefix(i),
      cond: cond(`HasPrefix${i + 1}`, notEmpty(prefix(i))),
    }));
    const ifCond = (c: CfnCondition, yes: unknown, no: unknown = Aws.NO_VALUE) => Fn.conditionIf(c.logicalId, yes, no);

    // ----------------------------------------------------------------------
    // The function, its geo database layer and its log group
    // ----------------------------------------------------------------------
    const role = new iam.Role(this, 'FunctionRole', {
      description: 'trailhound function role',
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    setLogicalId(role, 'FunctionRole');

    const geo = new lambda.LayerVersion(this, 'GeoDatabase', {
      layerVersionName: `${Aws.STACK_NAME}-geo`,
      description: `trailhound geo database (geo/country.mmdb -> ${GEOIP_PATH})`,
      code: lambda.Code.fromAsset(props.geoLayerDir),
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
      removalPolicy: RemovalPolicy.DESTROY,
    });
    setLogicalId(geo, 'GeoDatabase');

    const table = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expires_at',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED, // aws/dynamodb
      // Baselines take the learning period to rebuild: keep the table on delete.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const cfnTable = setLogicalId(table, 'StateTable') as dynamodb.CfnTable;
    cfnTable.sseSpecification = { sseEnabled: true, sseType: 'KMS' };

    const dlq = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    setLogicalId(dlq, 'DeadLetterQueue');

    // Findings topic and its customer-managed key.
    const key = new kms.CfnKey(this, 'TopicKey', {
      description: 'trailhound findings topic key',
      enableKeyRotation: true,
      pendingWindowInDays: 30,
      keyPolicy: {
        Version: '2012-10-17',
        Statement: [
          // In a key policy, Resource "*" means "this key".
          {
            Sid: 'AccountRootAdministers', Effect: 'Allow',
            Principal: { AWS: `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:root` },
            Action: 'kms:*', Resource: '*',
          },
          {
            Sid: 'FunctionPublishes', Effect: 'Allow',
            Principal: { AWS: role.roleArn },
            Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*',
          },
          ifCond(alarmActions, {
            Sid: 'CloudWatchAlarmsPublish', Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*',
            // Only for alarms of this account (confused deputy).
            Condition: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
          }),
        ],
      },
    });
    key.applyRemovalPolicy(RemovalPolicy.DESTROY);
    new kms.CfnAlias(this, 'TopicKeyAlias', {
      aliasName: `alias/${Aws.STACK_NAME}-findings`,
      targetKeyId: key.ref,
    });
    const topic = new sns.CfnTopic(this, 'Topic', { displayName: 'trailhound', kmsMasterKeyId: key.attrArn });

    const fn = new lambda.Function(this, 'Function', {
      description: 'trailhound detector (CloudTrail + Bedrock invocation logs)',
      // `cargo lambda build --release --arm64 --bin bootstrap` output (a zip made
      // with --output-format zip would sit beside it: not part of the asset).
      code: lambda.Code.fromAsset(props.bootstrapDir, { exclude: ['*.zip'] }),
      handler: 'bootstrap',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      memorySize: memorySize.valueAsNumber,
      timeout: Duration.seconds(timeout.valueAsNumber),
      role,
      layers: [geo],
      environment: {
        TRAILHOUND_TOPIC_ARN: topic.ref,
        TRAILHOUND_TABLE: table.tableName,
        TRAILHOUND_DETECTORS: detectorsLocation.valueAsString,
        TRAILHOUND_GEOIP: GEOIP_PATH,
        TRAILHOUND_MIN_SEVERITY: minSeverity.valueAsString,
        TRAILHOUND_LEARNING_DAYS: learningDays.valueAsString,
        TRAILHOUND_SECURITYHUB: securityHub.valueAsString,
        TRAILHOUND_EVENT_BUS: eventBusName.valueAsString,
        TRAILHOUND_SNS_FORMAT: snsFormat.valueAsString,
        RUST_LOG: logLevel.valueAsString,
      },
    });
    const cfnFn = setLogicalId(fn, 'Function') as lambda.CfnFunction;
    // Set on the L1 resource: the L2 props would also add grants to the role.
    cfnFn.deadLetterConfig = { targetArn: dlq.queueArn };
    cfnFn.reservedConcurrentExecutions = Token.asNumber(ifCond(hasReserved, reservedConcurrency.valueAsNumber));

    const logGroup = new logs.CfnLogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${fn.functionName}`,
      retentionInDays: logRetentionDays.valueAsNumber,
    });
    logGroup.applyRemovalPolicy(RemovalPolicy.DESTROY);

    // ----------------------------------------------------------------------
    // Trigger queue (both modes); declared before the policy that names it
    // ----------------------------------------------------------------------
    const triggerQueue = new sqs.CfnQueue(this, 'TriggerQueue', {
      sqsManagedSseEnabled: true,
      visibilityTimeout: Token.asNumber(queueVisibility.findInMap(timeout.valueAsString, 'Seconds')),
      messageRetentionPeriod: 345600, // 4 days
      redrivePolicy: { deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 5 },
    });

    // ----------------------------------------------------------------------
    // IAM: two policies on a role without inline policies, so that the key policy
    // can name the role while this policy names the key, and the function can wait
    // for FunctionPolicy while FunctionLogsPolicy names the log group named after
    // the function (no dependency cycle).
    // ----------------------------------------------------------------------
    const detectorsPath = Fn.select(1, Fn.split('s3://', detectorsLocation.valueAsString));
    const policy = new iam.CfnPolicy(this, 'FunctionPolicy', {
      policyName: 'trailhound-function',
      roles: [role.roleName],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          // GetObjectVersion: the function fetches the exact version named by the
          // event (versioned buckets).
          {
            Sid: 'ReadLogObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: slots.map((s) => ifCond(s.cond,
              Fn.sub('arn:${AWS::Partition}:s3:::${LogBucketName}/${P}*', { P: s.value }))),
          },
          ifCond(hasLogKey, {
            Sid: 'DecryptLogObjects', Effect: 'Allow', Action: 'kms:Decrypt',
            Resource: logBucketKmsKeyArn.valueAsString,
            // Only when S3 asks on the function's behalf (reading a log object).
            Condition: { StringEquals: { 'kms:ViaService': Fn.sub('s3.${AWS::Region}.amazonaws.com') } },
          }),
          // ListBucket is bucket-level: CloudFormation cannot cut the prefix out of
          // the one s3:// parameter for an s3:prefix condition.
          ifCond(hasDetectors, {
            Sid: 'ReadDetectors', Effect: 'Allow', Action: 's3:GetObject',
            Resource: Fn.sub('arn:${AWS::Partition}:s3:::${Path}*', { Path: detectorsPath }),
          }),
          ifCond(hasDetectors, {
            Sid: 'ListDetectors', Effect: 'Allow', Action: 's3:ListBucket',
            Resource: Fn.sub('arn:${AWS::Partition}:s3:::${Bucket}', {
              Bucket: Fn.select(0, Fn.split('/', detectorsPath)),
            }),
          }),
          // The item actions the function uses: GetItem, BatchGetItem to load;
          // TransactWriteItems of Put and ConditionCheck to commit (authorized by those
          // item actions); UpdateItem for the outbox.
          {
            Sid: 'StateTable', Effect: 'Allow',
            Action: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem']
              .map((a) => `dynamodb:${a}`),
            Resource: table.tableArn,
          },
          // Publish also authorizes PublishBatch.
          { Sid: 'PublishFindings', Effect: 'Allow', Action: 'sns:Publish', Resource: topic.ref },
          // Security Hub: the account's own default product only.
          ifCond(enableSecurityHub, {
            Sid: 'ImportFindings', Effect: 'Allow', Action: 'securityhub:BatchImportFindings',
            Resource: Fn.sub('arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default'),
          }),
          // EventBridge: the one configured bus.
          ifCond(hasEventBus, {
            Sid: 'PutFindingEvents', Effect: 'Allow', Action: 'events:PutEvents',
            Resource: ifCond(eventBusIsArn, eventBusName.valueAsString,
              Fn.sub('arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}')),
          }),
          { Sid: 'TopicKey', Effect: 'Allow', Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: key.attrArn },
          { Sid: 'DeadLetter', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: dlq.queueArn },
          {
            Sid: 'ConsumeTriggerQueue', Effect: 'Allow',
            Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
            Resource: triggerQueue.attrArn,
          },
        ],
      },
    });
    // Lambda checks at creation that the role may send to the dead-letter queue, so
    // the function waits for FunctionPolicy. (This also replaces the L2's DependsOn
    // FunctionRole, already implied by Role: GetAtt - cfn-lint W3005.)
    cfnFn.addOverride('DependsOn', [policy.logicalId]);

    const logsPolicy = new iam.CfnPolicy(this, 'FunctionLogsPolicy', {
      policyName: 'trailhound-function-logs',
      roles: [role.roleName],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          // Own log group only; its ARN ends in ":*" (its log streams). No
          // logs:CreateLogGroup: the stack creates the group.
          {
            Sid: 'OwnLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: logGroup.attrArn,
          },
        ],
      },
    });

    // ----------------------------------------------------------------------
    // Subscriptions
    // ----------------------------------------------------------------------
    // Findings >= EmailMinSeverity plus alarm notifications (no severity attribute).
    // A string, so that the number stays a JSON number (a Ref is a string).
    const email = new sns.CfnSubscription(this, 'EmailSubscription', {
      topicArn: topic.ref, protocol: 'email', endpoint: alertEmail.valueAsString,
      filterPolicyScope: 'MessageAttributes',
      filterPolicy: Fn.sub('{"$or":[{"severity":[{"numeric":[">=",${EmailMinSeverity}]}]},{"severity":[{"exists":false}]}]}'),
    });
    email.cfnOptions.condition = hasEmail;
    // Findings only (every finding carries the "detector" attribute).
    const endpoint = new sns.CfnSubscription(this, 'EndpointSubscription', {
      topicArn: topic.ref,
      protocol: Token.asString(ifCond(endpointIsSqs, 'sqs', 'https')),
      endpoint: alertEndpoint.valueAsString,
      rawMessageDelivery: Token.asAny(ifCond(endpointIsSqs, true, false)) as unknown as boolean,
      filterPolicyScope: 'MessageAttributes',
      filterPolicy: { detector: [{ exists: true }] },
    });
    endpoint.cfnOptions.condition = hasEndpoint;

    // ----------------------------------------------------------------------
    // EventBridge mode
    // ----------------------------------------------------------------------
    const rule = new events.CfnRule(this, 'ObjectCreatedRule', {
      description: 'New CloudTrail / Bedrock invocation log objects in the log bucket',
      state: 'ENABLED',
      eventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [logBucketName.valueAsString] },
          object: { key: slots.map((s) => ifCond(s.cond, { prefix: s.value })) },
        },
      },
      // To the trigger queue, not the function: the queue delivers batches, and a batch is
      // one group commit (README, "The Lambda's cost": 3x cheaper than an invocation per
      // object).
      targets: [{
        id: 'trailhound',
        arn: triggerQueue.attrArn,
        retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86400 },
        deadLetterConfig: { arn: dlq.queueArn },
      }],
    });
    rule.cfnOptions.condition = isEventBridge;

    // The rule target's own dead letters (events EventBridge could not deliver).
    const dlqPolicy = new sqs.CfnQueuePolicy(this, 'DeadLetterQueuePolicy', {
      queues: [dlq.queueUrl],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{
          Sid: 'EventBridgeDeadLetters', Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage', Resource: dlq.queueArn,
          Condition: { ArnEquals: { 'aws:SourceArn': rule.attrArn } },
        }],
      },
    });
    dlqPolicy.cfnOptions.condition = isEventBridge;

    // ----------------------------------------------------------------------
    // Both modes: the rule's events (EventBridge mode) or S3 notifications (SQS mode,
    // directly or via SourceTopicArn) -> queue -> function
    // ----------------------------------------------------------------------
    const queuePolicy = new sqs.CfnQueuePolicy(this, 'TriggerQueuePolicy', {
      queues: [triggerQueue.ref],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          ifCond(isEventBridge, {
            Sid: 'RuleEvents', Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage', Resource: triggerQueue.attrArn,
            Condition: { ArnEquals: { 'aws:SourceArn': rule.attrArn } },
          }),
          ifCond(isSqs, {
            Sid: 'BucketNotifications', Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: 'sqs:SendMessage', Resource: triggerQueue.attrArn,
            Condition: {
              ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:s3:::${logBucketName.valueAsString}` },
              StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
            },
          }),
          ifCond(useSourceTopic, {
            Sid: 'SourceTopicNotifications', Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage', Resource: triggerQueue.attrArn,
            Condition: { ArnEquals: { 'aws:SourceArn': sourceTopicArn.valueAsString } },
          }),
        ],
      },
    });

    const sourceSub = new sns.CfnSubscription(this, 'SourceTopicSubscription', {
      topicArn: sourceTopicArn.valueAsString, protocol: 'sqs', endpoint: triggerQueue.attrArn,
      rawMessageDelivery: true,
    });
    sourceSub.cfnOptions.condition = useSourceTopic;
    sourceSub.addResourceDependency(queuePolicy);

    const mapping = new lambda.CfnEventSourceMapping(this, 'TriggerQueueMapping', {
      functionName: fn.functionName,
      eventSourceArn: triggerQueue.attrArn,
      // Up to 50 objects a batch, gathered for up to 30 s: the function commits a batch's
      // objects together (group commit), which is most of the cost per million events.
      batchSize: 50,
      maximumBatchingWindowInSeconds: 30,
      functionResponseTypes: ['ReportBatchItemFailures'],
    });
    mapping.addResourceDependency(logsPolicy);
    mapping.addResourceDependency(logGroup);

    // ----------------------------------------------------------------------
    // Alarms (actions: the findings topic, if EnableAlarmActions)
    // ----------------------------------------------------------------------
    const actions = Token.asList(ifCond(alarmActions, [topic.ref]));
    const alarm = (id: string, o: Partial<cloudwatch.CfnAlarmProps> & Pick<cloudwatch.CfnAlarmProps,
      'alarmDescription' | 'namespace' | 'metricName' | 'dimensions' | 'statistic' | 'period' | 'threshold'>) =>
      new cloudwatch.CfnAlarm(this, id, {
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: actions,
        okActions: actions,
        ...o,
      });
    const byFunction = [{ name: 'FunctionName', value: fn.functionName }];
    alarm('ErrorsAlarm', {
      alarmDescription: 'trailhound function errors (objects are retried, then dead-lettered)',
      namespace: 'AWS/Lambda', metricName: 'Errors', dimensions: byFunction,
      statistic: 'Sum', period: 300, threshold: 1,
    });
    alarm('ThrottlesAlarm', {
      alarmDescription: 'trailhound function throttled (raise ReservedConcurrency or the account limit)',
      namespace: 'AWS/Lambda', metricName: 'Throttles', dimensions: byFunction,
      statistic: 'Sum', period: 300, evaluationPeriods: 3, datapointsToAlarm: 2, threshold: 1,
    });
    alarm('DeadLetterAlarm', {
      alarmDescription: 'trailhound dead-letter queue holds messages (log objects not processed)',
      namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: [{ name: 'QueueName', value: dlq.queueName }],
      statistic: 'Maximum', period: 300, threshold: 1,
    });
    // Emitted by the function in Embedded Metric Format.
    alarm('ProcessingLagAlarm', {
      alarmDescription: 'trailhound is falling behind the logs (event time to processing)',
      namespace: 'Trailhound', metricName: 'ProcessingLagSeconds', dimensions: byFunction,
      statistic: 'Maximum', period: 900, threshold: maxLagSeconds.valueAsNumber,
      comparisonOperator: 'GreaterThanThreshold',
    });

    // ----------------------------------------------------------------------
    // Outputs
    // ----------------------------------------------------------------------
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new CfnOutput(this, 'LogGroupName', { value: logGroup.ref });
    new CfnOutput(this, 'StateTableName', { value: table.tableName });
    new CfnOutput(this, 'FindingsTopicArn', {
      value: topic.ref,
      description: 'Subscribe more endpoints here (message attributes severity, severity_label, detector, account).',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: dlq.queueUrl });
    new CfnOutput(this, 'ObjectCreatedRuleName', { value: rule.ref, condition: isEventBridge });
    new CfnOutput(this, 'TriggerQueueArn', {
      value: triggerQueue.attrArn,
      description: 'SQS mode - point the bucket\'s S3 event notification (or the SNS topic) at this queue.',
    });
  }
}

/** Give an L2 construct's CloudFormation resource the SAM template's logical id. */
function setLogicalId(c: Construct, id: string) {
  const res = c.node.defaultChild as import('aws-cdk-lib').CfnResource;
  res.overrideLogicalId(id);
  return res;
}

/** Repository root, from deploy/cdk/{dist/,}{bin,lib}. */
export function repoRoot(fromDir: string): string {
  let dir = fromDir;
  for (let i = 0; i < 5; i++) {
    if (path.basename(dir) === 'deploy') return path.dirname(dir);
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the repository root above ${fromDir}`);
}
