/**
 * The exact text the stack passes as each SSM document's `Content`, and its SHA-256: one
 * function for both, so what the function pins (SendCommand `DocumentHash`) is what the stack
 * deployed.
 *
 * SSM's `DocumentHash` is "The Sha256 or Sha1 hash created by the system when the document was
 * created" (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html;
 * DescribeDocument returns it as `Hash`, API_DocumentDescription). The stack therefore hands
 * CloudFormation the content as this string (not as an object CloudFormation would serialize in
 * its own way), and the hash is taken over exactly these bytes (UTF-8).
 */
import { createHash } from 'node:crypto';
import { type DocumentRole, probeDocument, pushDocument, type SsmDocumentContent } from './ssm-documents.ts';

export interface DeployedDocument {
  /** The `Content` string CreateDocument receives. */
  readonly content: string;
  /** Lower-case hex SHA-256 of `content`: SendCommand's `DocumentHash` (`DocumentHashType: 'Sha256'`). */
  readonly sha256: string;
}

export function deployedDocument(document: SsmDocumentContent): DeployedDocument {
  const content = JSON.stringify(document);
  return { content, sha256: sha256Hex(content) };
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

let deployed: Readonly<Record<DocumentRole, DeployedDocument>> | undefined;

/** Both documents as deployed (built once: the scripts are read from disk). */
export function deployedDocuments(): Readonly<Record<DocumentRole, DeployedDocument>> {
  deployed ??= Object.freeze({
    probe: deployedDocument(probeDocument()),
    push: deployedDocument(pushDocument()),
  });
  return deployed;
}
