/**
 * The probe and push SSM Command documents, deployed with exactly the content the proving
 * ground executes (shared/documents/ssm-documents.ts) under the per-environment names the
 * function is told about.
 */
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import {
  type DocumentRole,
  documentNames,
  probeDocument,
  pushDocument,
  type SsmDocumentContent,
} from '../shared/documents/ssm-documents.ts';

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
    this.probe = commandDocument(this, 'Probe', this.names.probe, probeDocument());
    this.push = commandDocument(this, 'Push', this.names.push, pushDocument());
  }
}

function commandDocument(
  scope: Construct,
  id: string,
  name: string,
  content: SsmDocumentContent,
): CfnDocument {
  return new CfnDocument(scope, id, {
    name,
    documentType: 'Command',
    documentFormat: 'JSON',
    // A plain JSON copy: the content object is data, never a template with tokens.
    content: JSON.parse(JSON.stringify(content)),
    // The name carries the content's hash, so new content is a new name: CloudFormation creates
    // the new document (version 1, the one the function runs) and then deletes the old one.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ssm-document.html#cfn-ssm-document-updatemethod
    updateMethod: 'Replace',
  });
}
