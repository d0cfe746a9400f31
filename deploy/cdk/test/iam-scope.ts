// Walks every IAM policy document of a CloudFormation template and reports
// statements that are not scoped. Used on the CDK template and on the SAM
// template after the SAM transform (see stack.test.ts).
//
// Documents walked: AWS::IAM::Role (AssumeRolePolicyDocument, inline Policies),
// AWS::IAM::Policy, AWS::IAM::ManagedPolicy, AWS::KMS::Key (KeyPolicy),
// AWS::SQS::QueuePolicy, AWS::SNS::TopicPolicy, AWS::S3::BucketPolicy and
// AWS::Lambda::Permission. Fn::If is expanded into both branches.
//
// Rules for Allow statements:
//  - no NotAction / NotResource / NotPrincipal;
//  - no action "*" and no "service:*", except in the key policy statement whose
//    only principal is the account root (kms:* for the account = key administration);
//  - no other action wildcard except ALLOWED_ACTION_WILDCARDS;
//  - identity policies: every statement names resources; none is "*"; a resource
//    containing "*" must match ALLOWED_RESOURCE_WILDCARDS;
//  - key policies: Resource "*" is allowed (in a key policy it means this key);
//  - resource policies with a service principal must carry a Condition (source ARN / account).

/** Action wildcards that are accepted, and why. */
export const ALLOWED_ACTION_WILDCARDS: Record<string, string> = {
  // AWS's documented form for publishers to an SSE-KMS topic (covers GenerateDataKey
  // and GenerateDataKeyWithoutPlaintext on one key).
  'kms:GenerateDataKey*': 'SNS server-side encryption: publisher permissions as documented by AWS',
};

/**
 * Resource wildcards that are accepted, and why. Resources are rendered to strings:
 * Ref X -> ${X}, GetAtt X.Y -> ${X.Y}, Fn::Sub/Join are expanded, and any other
 * expression becomes ${~Names} listing the parameters/resources it is built from.
 */
export const ALLOWED_RESOURCE_WILDCARDS: Array<{ pattern: RegExp; why: string }> = [
  {
    pattern: /^arn:\$\{AWS::Partition\}:s3:::\$\{LogBucketName\}\/\$\{~LogPrefixes\}\*$/,
    why: 'log objects under one configured log prefix (S3 has no narrower grant than a key prefix)',
  },
  {
    pattern: /^arn:\$\{AWS::Partition\}:s3:::\$\{~DetectorsLocation\}\*$/,
    why: 'detector files under the s3:// detectors prefix',
  },
  // Not listed because it renders without "*": the log group ARN (GetAtt LogGroup.Arn),
  // whose value ends in ":*" = the log streams of that one group.
];

type Json = any;
export interface ScopeReport { errors: string[]; statements: number }

const NO_VALUE = (v: Json) => v && typeof v === 'object' && v.Ref === 'AWS::NoValue';

/** All concrete alternatives of a value or list, expanding Fn::If and dropping AWS::NoValue. */
export function alternatives(v: Json): Json[] {
  if (v === undefined || NO_VALUE(v)) return [];
  if (Array.isArray(v)) return v.flatMap(alternatives);
  if (v && typeof v === 'object' && Array.isArray(v['Fn::If'])) {
    return [...alternatives(v['Fn::If'][1]), ...alternatives(v['Fn::If'][2])];
  }
  return [v];
}

function refsIn(v: Json, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) v.forEach((x) => refsIn(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, a] of Object.entries<Json>(v)) {
      if (k === 'Ref' && typeof a === 'string') out.add(a);
      else if (k === 'Fn::GetAtt') out.add(Array.isArray(a) ? String(a[0]) : String(a).split('.')[0]);
      else if (k === 'Fn::Sub') {
        const tmpl = typeof a === 'string' ? a : a[0];
        for (const m of String(tmpl).matchAll(/\$\{([^}!.]+)[^}]*\}/g)) if (!(Array.isArray(a) && m[1] in a[1])) out.add(m[1]);
        if (Array.isArray(a)) refsIn(a[1], out);
      } else refsIn(a, out);
    }
  }
  return out;
}

/** Render a (resource) value to a string, see ALLOWED_RESOURCE_WILDCARDS. */
export function render(v: Json): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1) {
    const [k, a] = Object.entries(v)[0] as [string, Json];
    if (k === 'Ref') return `\${${a}}`;
    if (k === 'Fn::GetAtt') return `\${${Array.isArray(a) ? a.join('.') : a}}`;
    if (k === 'Fn::Sub') {
      const [tmpl, vars] = typeof a === 'string' ? [a, {}] : a;
      return String(tmpl).replace(/\$\{([^}!]+)\}/g, (m, name) => (name in vars ? render(vars[name]) : m));
    }
    if (k === 'Fn::Join' && Array.isArray(a[1])) return a[1].map(render).join(a[0]);
  }
  return `\${~${[...refsIn(v)].sort().join(',')}}`;
}

type Kind = 'identity' | 'trust' | 'key' | 'resource';

function documents(template: Json): Array<{ where: string; kind: Kind; doc: Json }> {
  const docs: Array<{ where: string; kind: Kind; doc: Json }> = [];
  for (const [id, r] of Object.entries<Json>(template.Resources ?? {})) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::IAM::Role':
        docs.push({ where: `${id}.AssumeRolePolicyDocument`, kind: 'trust', doc: p.AssumeRolePolicyDocument });
        for (const pol of alternatives(p.Policies)) {
          docs.push({ where: `${id}.Policies.${pol.PolicyName}`, kind: 'identity', doc: pol.PolicyDocument });
        }
        break;
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        docs.push({ where: id, kind: 'identity', doc: p.PolicyDocument });
        break;
      case 'AWS::KMS::Key':
        docs.push({ where: `${id}.KeyPolicy`, kind: 'key', doc: p.KeyPolicy });
        break;
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::S3::BucketPolicy':
        docs.push({ where: id, kind: 'resource', doc: p.PolicyDocument });
        break;
      case 'AWS::Lambda::Permission':
        docs.push({
          where: id, kind: 'resource',
          doc: { Statement: [{ Effect: 'Allow', Action: p.Action, Principal: { Service: p.Principal }, Resource: p.FunctionName, Condition: p.SourceArn && { ArnLike: { 'aws:SourceArn': p.SourceArn } } }] },
        });
        break;
      default:
        if (r.Type === 'AWS::Serverless::Function' && p.Policies) {
          docs.push({ where: `${id}.Policies`, kind: 'identity', doc: { Statement: [{ Effect: 'Allow', Action: '*', Resource: 'unexpanded SAM Policies' }] } });
        }
    }
  }
  return docs;
}

const isAccountRoot = (principal: Json) => {
  const aws = principal && typeof principal === 'object' ? alternatives(principal.AWS) : [];
  return Object.keys(principal ?? {}).length === 1 && aws.length === 1
    && /^arn:(aws|\$\{AWS::Partition\}):iam::(\d{12}|\$\{AWS::AccountId\}):root$/.test(render(aws[0]));
};

export function checkIamScoping(template: Json): ScopeReport {
  const errors: string[] = [];
  let statements = 0;
  for (const { where, kind, doc } of documents(template)) {
    if (!doc) { errors.push(`${where}: no policy document`); continue; }
    alternatives(doc.Statement).forEach((st: Json, i: number) => {
      statements += 1;
      const at = `${where}[${st.Sid ?? i}]`;
      if (st.Effect !== 'Allow') return;
      for (const not of ['NotAction', 'NotResource', 'NotPrincipal']) if (st[not]) errors.push(`${at}: ${not} in an Allow`);
      const rootAdmin = kind === 'key' && isAccountRoot(st.Principal);
      for (const a of alternatives(st.Action).map(render)) {
        if (!a.includes('*')) continue;
        if (a === '*' ) errors.push(`${at}: action "*"`);
        else if (a.endsWith(':*')) { if (!rootAdmin) errors.push(`${at}: action "${a}"`); }
        else if (!(a in ALLOWED_ACTION_WILDCARDS)) errors.push(`${at}: action wildcard "${a}"`);
      }
      if (kind === 'trust') return;
      const resources = alternatives(st.Resource).map(render);
      if (kind === 'identity' && resources.length === 0) errors.push(`${at}: no Resource`);
      for (const r of resources) {
        if (kind === 'key') { if (r !== '*') errors.push(`${at}: key policy resource "${r}" (expected "*" = this key)`); continue; }
        if (r === '*') { errors.push(`${at}: resource "*"`); continue; }
        if (r.includes('*') && !ALLOWED_RESOURCE_WILDCARDS.some((w) => w.pattern.test(r))) {
          errors.push(`${at}: wildcard resource "${r}" is not in the allowed list`);
        }
      }
      if (kind === 'resource' && st.Principal?.Service && !st.Condition) {
        errors.push(`${at}: service principal without a Condition`);
      }
    });
  }
  return { errors, statements };
}
