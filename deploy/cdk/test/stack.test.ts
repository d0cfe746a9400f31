// CDK assertion tests (node's built-in runner): `npm test` from deploy/cdk.
// They synthesize the stack with placeholder asset folders, so they need neither
// the Rust build nor AWS. If TRAILHOUND_SAM_TEMPLATE names the SAM template after
// the SAM transform (JSON, written by deploy/test.sh), the IAM scoping rules are
// applied to it as well.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { GEOIP_PATH, TrailhoundStack } from '../lib/trailhound-stack';
import { checkIamScoping } from './iam-scope';

function synth(): Template {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trailhound-cdk-test-'));
  const bootstrapDir = path.join(tmp, 'bootstrap');
  const geoLayerDir = path.join(tmp, 'geo-layer');
  fs.mkdirSync(bootstrapDir);
  fs.mkdirSync(path.join(geoLayerDir, 'geo'), { recursive: true });
  fs.writeFileSync(path.join(bootstrapDir, 'bootstrap'), 'placeholder');
  fs.writeFileSync(path.join(geoLayerDir, 'geo', 'country.mmdb'), 'placeholder');
  const app = new App();
  return Template.fromStack(new TrailhoundStack(app, 'Test', { bootstrapDir, geoLayerDir }));
}

const template = synth();
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any; Condition?: string }>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

test('function: provided.al2023 on arm64, bootstrap handler, parameters for memory and timeout', () => {
  template.resourceCountIs('AWS::Lambda::Function', 1);
  template.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'provided.al2023',
    Architectures: ['arm64'],
    Handler: 'bootstrap',
    MemorySize: { Ref: 'MemorySize' },
    Timeout: { Ref: 'Timeout' },
    ReservedConcurrentExecutions: { 'Fn::If': ['HasReservedConcurrency', { Ref: 'ReservedConcurrency' }, { Ref: 'AWS::NoValue' }] },
    DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] } },
    Layers: [{ Ref: 'GeoDatabase' }],
  });
  template.hasParameter('MemorySize', { Type: 'Number', Default: 1024 });
  template.hasParameter('Timeout', { Type: 'Number', Default: '300' });
});

test('function environment: exactly the variables the Rust code reads', () => {
  const vars = resources.Function.Properties.Environment.Variables;
  assert.deepEqual(Object.keys(vars).sort(), [
    'RUST_LOG', 'TRAILHOUND_DETECTORS', 'TRAILHOUND_EVENT_BUS', 'TRAILHOUND_GEOIP', 'TRAILHOUND_LEARNING_DAYS',
    'TRAILHOUND_MIN_SEVERITY', 'TRAILHOUND_SECURITYHUB', 'TRAILHOUND_SNS_FORMAT', 'TRAILHOUND_TABLE',
    'TRAILHOUND_TOPIC_ARN',
  ]);
  assert.deepEqual(vars.TRAILHOUND_SECURITYHUB, { Ref: 'SecurityHub' });
  assert.deepEqual(vars.TRAILHOUND_EVENT_BUS, { Ref: 'EventBusName' });
  assert.deepEqual(vars.TRAILHOUND_SNS_FORMAT, { Ref: 'SnsFormat' });
  template.hasParameter('SecurityHub', { Default: 'false', AllowedValues: ['true', 'false'] });
  template.hasParameter('EventBusName', { Default: '' });
  template.hasParameter('SnsFormat', { Default: 'default', AllowedValues: ['default', 'chatbot'] });
  assert.deepEqual(vars.TRAILHOUND_TOPIC_ARN, { Ref: 'Topic' });
  assert.deepEqual(vars.TRAILHOUND_TABLE, { Ref: 'StateTable' });
  assert.equal(vars.TRAILHOUND_GEOIP, GEOIP_PATH);
  assert.equal(GEOIP_PATH, '/opt/geo/country.mmdb');
  template.hasParameter('MinSeverity', { Default: 4 });
  template.hasParameter('LearningDays', { Default: 7 });
  template.hasParameter('LogLevel', { Default: 'info' });
});

test('geo database layer for arm64 / provided.al2023', () => {
  template.hasResourceProperties('AWS::Lambda::LayerVersion', {
    CompatibleArchitectures: ['arm64'],
    CompatibleRuntimes: ['provided.al2023'],
  });
});

test('ordering: the function waits for its policy (DLQ check); triggers wait for logs', () => {
  const json = template.toJSON().Resources;
  assert.deepEqual(json.Function.DependsOn, ['FunctionPolicy']);
  assert.deepEqual([...json.TriggerQueueMapping.DependsOn].sort(), ['FunctionLogsPolicy', 'LogGroup']);
});

test('log group /aws/lambda/<function> with retention parameter (default 30)', () => {
  template.hasResourceProperties('AWS::Logs::LogGroup', {
    LogGroupName: { 'Fn::Join': ['', ['/aws/lambda/', { Ref: 'Function' }]] },
    RetentionInDays: { Ref: 'LogRetentionDays' },
  });
  template.hasParameter('LogRetentionDays', { Default: '30' });
});

test('state table: on demand, pk/sk, TTL expires_at, PITR, SSE-KMS, retained', () => {
  template.hasResource('AWS::DynamoDB::Table', {
    DeletionPolicy: 'Retain',
    Properties: {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    },
  });
});

test('topic encrypted with a rotating customer-managed key usable by the function role', () => {
  template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': ['TopicKey', 'Arn'] } });
  template.hasResourceProperties('AWS::KMS::Key', {
    EnableKeyRotation: true,
    KeyPolicy: {
      Statement: Match.arrayWith([
        Match.objectLike({ Sid: 'AccountRootAdministers', Action: 'kms:*', Resource: '*' }),
        Match.objectLike({
          Sid: 'FunctionPublishes',
          Principal: { AWS: { 'Fn::GetAtt': ['FunctionRole', 'Arn'] } },
          Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        }),
      ]),
    },
  });
});

test('subscriptions: optional email with severity filter, optional https/sqs endpoint', () => {
  const email = resources.EmailSubscription;
  assert.equal(email.Condition, 'HasAlertEmail');
  assert.equal(email.Properties.Protocol, 'email');
  assert.match(JSON.stringify(email.Properties.FilterPolicy), /numeric.*>=.*\$\{EmailMinSeverity\}/);
  template.hasParameter('EmailMinSeverity', { Default: 7 });
  const endpoint = resources.EndpointSubscription;
  assert.equal(endpoint.Condition, 'HasAlertEndpoint');
  assert.deepEqual(endpoint.Properties.Protocol, { 'Fn::If': ['AlertEndpointIsSqs', 'sqs', 'https'] });
});

test('dead-letter queue: encrypted; EventBridge target and SQS redrive both use it', () => {
  template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
  for (const [, q] of ofType('AWS::SQS::Queue')) assert.equal(q.Properties.SqsManagedSseEnabled, true);
  const rule = resources.ObjectCreatedRule;
  assert.equal(rule.Condition, 'IsEventBridge');
  assert.deepEqual(rule.Properties.Targets[0].DeadLetterConfig, { Arn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] } });
  assert.ok(rule.Properties.Targets[0].RetryPolicy.MaximumRetryAttempts > 0);
  assert.deepEqual(rule.Properties.EventPattern.source, ['aws.s3']);
  assert.deepEqual(rule.Properties.EventPattern['detail-type'], ['Object Created']);
  // Both modes feed the trigger queue: the rule targets it, nothing invokes the function.
  assert.deepEqual(rule.Properties.Targets[0].Arn, { 'Fn::GetAtt': ['TriggerQueue', 'Arn'] });
  assert.equal(ofType('AWS::Lambda::Permission').length, 0);
  const queue = resources.TriggerQueue;
  assert.equal(queue.Condition, undefined);
  assert.equal(resources.TriggerQueueMapping.Condition, undefined);
  assert.deepEqual(queue.Properties.RedrivePolicy.deadLetterTargetArn, { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
});

test('SQS mode: visibility timeout is 6x the function timeout; batch item failures', () => {
  const mapping = template.toJSON().Mappings.QueueVisibility as Record<string, { Seconds: number }>;
  const allowed: string[] = template.toJSON().Parameters.Timeout.AllowedValues;
  assert.deepEqual(Object.keys(mapping).sort(), [...allowed].sort());
  for (const t of allowed) assert.ok(mapping[t].Seconds >= 6 * Number(t), `timeout ${t}`);
  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    EventSourceArn: { 'Fn::GetAtt': ['TriggerQueue', 'Arn'] },
    // Batches as large as one group commit (50 objects), gathered for 30 s.
    BatchSize: 50,
    MaximumBatchingWindowInSeconds: 30,
  });
});

test('alarms: Errors, Throttles, DLQ depth, ProcessingLagSeconds', () => {
  const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const find = (ns: string, metric: string) => {
    const a = alarms.find((x) => x.Namespace === ns && x.MetricName === metric);
    assert.ok(a, `alarm on ${ns} ${metric}`);
    assert.ok(a.AlarmActions, `alarm on ${metric} has (conditional) actions`);
    return a;
  };
  find('AWS/Lambda', 'Errors');
  find('AWS/Lambda', 'Throttles');
  const dlq = find('AWS/SQS', 'ApproximateNumberOfMessagesVisible');
  assert.deepEqual(dlq.Dimensions, [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] } }]);
  const lag = find('Trailhound', 'ProcessingLagSeconds');
  assert.deepEqual(lag.Dimensions, [{ Name: 'FunctionName', Value: { Ref: 'Function' } }]);
  assert.equal(lag.Statistic, 'Maximum');
  assert.equal(lag.Period, 900);
  assert.equal(lag.ComparisonOperator, 'GreaterThanThreshold');
  assert.deepEqual(lag.Threshold, { Ref: 'MaxLagSeconds' });
  template.hasParameter('MaxLagSeconds', { Default: 3600 });
});

test('no AWS::CDK::Metadata and no custom resources (plain CloudFormation)', () => {
  for (const [id, r] of Object.entries(resources)) {
    assert.ok(r.Type !== 'AWS::CDK::Metadata' && !r.Type.startsWith('Custom::'), `${id}: ${r.Type}`);
  }
});

test('IAM: every statement of every policy is scoped (CDK template)', () => {
  const report = checkIamScoping(template.toJSON());
  assert.deepEqual(report.errors, []);
  assert.ok(report.statements >= 10, `walked ${report.statements} statements`);
});

test('IAM: the function policy grants exactly the expected actions', () => {
  const attached = ofType('AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: 'FunctionRole' }]));
  assert.deepEqual(attached.map(([id]) => id).sort(), ['FunctionLogsPolicy', 'FunctionPolicy']);
  const actions = new Set<string>();
  for (const [, p] of attached) {
    for (const st of p.Properties.PolicyDocument.Statement) {
      const s = st['Fn::If'] ? st['Fn::If'][1] : st;
      for (const a of [s.Action].flat()) actions.add(a);
    }
  }
  assert.deepEqual([...actions].sort(), [
    'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem',
    'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem',
    'events:PutEvents', 'kms:Decrypt', 'kms:GenerateDataKey*', 'logs:CreateLogStream', 'logs:PutLogEvents',
    's3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 'securityhub:BatchImportFindings', 'sns:Publish',
    'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:SendMessage',
  ]);
  // The role itself carries no inline policy and no managed policy.
  const role = resources.FunctionRole.Properties;
  assert.equal(role.Policies, undefined);
  assert.equal(role.ManagedPolicyArns, undefined);
});

test('IAM: the sink grants exist only when the sink is enabled, scoped to the product and the bus', () => {
  const statements = resources.FunctionPolicy.Properties.PolicyDocument.Statement as any[];
  const guarded = (sid: string) => statements.find((st) => st['Fn::If'] && st['Fn::If'][1].Sid === sid)['Fn::If'];
  const hub = guarded('ImportFindings');
  assert.equal(hub[0], 'EnableSecurityHub');
  assert.deepEqual(hub[2], { Ref: 'AWS::NoValue' });
  assert.deepEqual(hub[1].Resource, {
    'Fn::Sub': 'arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default',
  });
  const bus = guarded('PutFindingEvents');
  assert.equal(bus[0], 'HasEventBus');
  assert.deepEqual(bus[1].Resource, { 'Fn::If': ['EventBusIsArn', { Ref: 'EventBusName' },
    { 'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}' }] });
  template.hasCondition('EnableSecurityHub', { 'Fn::Equals': [{ Ref: 'SecurityHub' }, 'true'] });
});

test('IAM: the scoping check catches what it should', () => {
  const bad = (statement: object, type = 'AWS::IAM::Policy') => checkIamScoping({
    Resources: { P: { Type: type, Properties: { PolicyDocument: { Statement: [statement] } } } },
  }).errors.length;
  assert.ok(bad({ Effect: 'Allow', Action: '*', Resource: { Ref: 'T' } }));
  assert.ok(bad({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/AWSLogs/*' }));
  assert.ok(bad({ Effect: 'Allow', Action: ['dynamodb:*'], Resource: { Ref: 'T' } }));
  assert.ok(bad({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }));
  assert.ok(bad({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }));
  assert.ok(bad({ Effect: 'Allow', Action: 'sns:Publish', Resource: { 'Fn::If': ['C', '*', { Ref: 'T' }] } }));
  assert.ok(bad({ Effect: 'Allow', NotAction: 's3:DeleteObject', Resource: { Ref: 'T' } }));
  assert.ok(bad({ Effect: 'Allow', Action: 'kms:*', Principal: { AWS: { Ref: 'R' } }, Resource: '*' }, 'AWS::KMS::Key'));
  assert.equal(bad({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'Topic' } }), 0);
});

const samTemplate = process.env.TRAILHOUND_SAM_TEMPLATE;
test('IAM: every statement of every policy is scoped (SAM template, transformed)', { skip: !samTemplate && 'TRAILHOUND_SAM_TEMPLATE not set' }, () => {
  const report = checkIamScoping(JSON.parse(fs.readFileSync(samTemplate!, 'utf8')));
  assert.deepEqual(report.errors, []);
  assert.ok(report.statements >= 10, `walked ${report.statements} statements`);
});
