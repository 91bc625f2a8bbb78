/**
 * The probe and push SSM Command documents, deployed with exactly the content the proving
 * ground executes (shared/documents/ssm-documents.ts) under the per-environment names the
 * function is told about.
 */
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { type DeployedDocument, deployedDocuments } from '../shared/documents/deployed-content.ts';
import { type DocumentRole, documentNames } from '../shared/documents/ssm-documents.ts';

export interface ReconcilerDocumentsProps {
  readonly environmentName: string;
}

export class ReconcilerDocuments extends Construct {
  readonly names: Readonly<Record<DocumentRole, string>>;
  readonly probe: CfnDocument;
  readonly push: CfnDocument;

  constructor(scope: Construct, id: string, props: ReconcilerDocumentsProps) {
    super(scope, id);
    this.names = documentNames(props.environmentName);
    const deployed = deployedDocuments();
    this.probe = commandDocument(this, 'Probe', this.names.probe, deployed.probe);
    this.push = commandDocument(this, 'Push', this.names.push, deployed.push);
  }
}

function commandDocument(
  scope: Construct,
  id: string,
  name: string,
  document: DeployedDocument,
): CfnDocument {
  const cfn = new CfnDocument(scope, id, {
    name,
    documentType: 'Command',
    documentFormat: 'JSON',
    // Replaced by the string below; the L1 class accepts only an object here.
    content: {},
    // The name carries the content's hash, so new content is a new name: CloudFormation creates
    // the new document (version 1, the one the function runs) and then deletes the old one.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ssm-document.html#cfn-ssm-document-updatemethod
    updateMethod: 'Replace',
  });
  // The content as a string, not an object: `Content` takes "JSON, YAML or String" (object or
  // string in the AWS::SSM::Document resource schema), and a string is what CreateDocument
  // receives, so SSM hashes exactly these bytes, the ones whose SHA-256 the function sends as
  // `DocumentHash` (shared/documents/deployed-content.ts). An object would be serialized again by
  // CloudFormation, in a form this code does not control. CDK's L1 validation allows only an
  // object, hence the override (applied to the template after validation).
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ssm-document.html#cfn-ssm-document-content
  cfn.addPropertyOverride('Content', document.content);
  return cfn;
}
