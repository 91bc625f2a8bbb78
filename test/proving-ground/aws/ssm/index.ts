/**
 * The SSM side of the proving ground: DescribeInstanceInformation, SendCommand, ListCommands,
 * ListCommandInvocations, GetCommandInvocation, CancelCommand and DescribeDocument. Each operation checks its request
 * (validation.ts, filters.ts), acts on the commands it keeps (commands.ts) through the per-node
 * command engine that drives `SimulatedFleet.runStep` (invocations.ts), and answers in SSM's shapes
 * (views.ts).
 *
 * Limits and shapes come from the SSM API reference (each cited where it is enforced) and from the
 * service model botocore ships (`ssm/2014-11-06/service-2.json`).
 */
import { createHash } from 'node:crypto';
import type { SimulatedFleet } from '../../types.ts';
import { type CommandDocument, parseDocument, resolveParameters } from '../documents.ts';
import { ACCOUNT_ID } from '../secrets.ts';
import {
  AwsError,
  constraint,
  decodeToken,
  encodeToken,
  epochSeconds,
  type Json,
  modeled,
  optionalBool,
  optionalList,
  optionalString,
  Violations,
} from '../wire.ts';
import { commandFilters } from './command-filters.ts';
import { type CommandState, DOCUMENT_VERSION, newCommand, type PluginState } from './commands.ts';
import { commandTargets, nodeFilters } from './filters.ts';
import { InvocationEngine } from './invocations.ts';
import type { MessageDelivery } from './message-delivery.ts';
import {
  cancelCommandInput,
  describeMaxResults,
  getCommandInvocationInput,
  listInput,
  sendCommandInput,
} from './validation.ts';
import { commandInvocationView, commandView, instanceInformation, invocationView } from './views.ts';

export interface SsmOptions {
  readonly fleet: SimulatedFleet;
  /** Where commands for nodes run by a real SSM Agent are queued (`SimulatedFleet.deliversByAgent`). */
  readonly messageDelivery: MessageDelivery;
  /**
   * The documents by name: the `Content` string CreateDocument received (its hash is taken over exactly
   * that text), or a content object, taken as created from its `JSON.stringify` text.
   */
  readonly documents: ReadonlyMap<string, object | string>;
  readonly region: string;
  /** How long an online node's invocation stays Pending before the agent picks it up (drawn per invocation). */
  readonly deliveryDelayMs: number | (() => number);
  /** How long a cancelled invocation shows Cancelling before it is Cancelled (see InvocationEngine.cancel). */
  readonly cancellingMs?: number;
  /** How long after SendCommand the command stays invisible to the List/Get operations. */
  readonly consistencyDelayMs: number;
}

export class SsmService {
  private readonly documents = new Map<string, CommandDocument>();
  /** Each document's `Hash` (DescribeDocument) by name and hash type. */
  private readonly hashes = new Map<string, { readonly Sha256: string; readonly Sha1: string }>();
  private readonly commands: CommandState[] = [];
  private readonly engine: InvocationEngine;
  private readonly started = new Date();

  constructor(private readonly options: SsmOptions) {
    for (const [name, content] of options.documents) {
      const text = typeof content === 'string' ? content : JSON.stringify(content);
      this.documents.set(name, parseDocument(name, JSON.parse(text)));
      // "The Sha256 or Sha1 hash created by the system when the document was created" (DocumentHash,
      // API_SendCommand; DescribeDocument's Hash): here, of the content text as it was given.
      this.hashes.set(name, {
        Sha256: createHash('sha256').update(text, 'utf8').digest('hex'),
        Sha1: createHash('sha1').update(text, 'utf8').digest('hex'),
      });
    }
    this.engine = new InvocationEngine(options);
  }

  handle(operation: string, input: Json): unknown {
    switch (operation) {
      case 'DescribeInstanceInformation':
        return this.describeInstanceInformation(input);
      case 'SendCommand':
        return this.sendCommand(input);
      case 'ListCommandInvocations':
        return this.listCommandInvocations(input);
      case 'GetCommandInvocation':
        return this.getCommandInvocation(input);
      case 'ListCommands':
        return this.listCommands(input);
      case 'CancelCommand':
        return this.cancelCommand(input);
      case 'DescribeDocument':
        return this.describeDocument(input);
      default:
        return undefined;
    }
  }

  /** Resolves once every invocation started so far is terminal (including ones that start meanwhile). */
  idle(): Promise<void> {
    return this.engine.idle();
  }

  close(): void {
    this.engine.close();
  }

  /**
   * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeDocument.html: `Name`
   * required (a name or ARN, 1 to 128 characters for a name), `DocumentVersion` `([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)`;
   * an unknown name is `InvalidDocument`, a version the document lacks `InvalidDocumentVersion`. The answer's
   * `Document` is a DocumentDescription (API_DocumentDescription): `Hash` and `HashType` Sha256, `Status`
   * Active, the one version every document here has.
   */
  private describeDocument(input: Json): Json {
    const v = new Violations();
    const name = optionalString(input, 'Name');
    if (name === undefined) v.add(undefined, 'name', constraint.notNull);
    const version = optionalString(input, 'DocumentVersion');
    if (version !== undefined && !/^([$]LATEST|[$]DEFAULT|[1-9][0-9]*)$/.test(version)) {
      v.add(version, 'documentVersion', constraint.pattern('([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)'));
    }
    v.throwIfAny();
    const documentName = (name ?? '').replace(/^arn:aws[a-z-]*:ssm:[^:]+:\d{12}:document\//, '');
    const document = this.documents.get(documentName);
    const hash = this.hashes.get(documentName);
    if (!document || !hash)
      throw modeled('InvalidDocument', `Document with name ${documentName} does not exist.`);
    if (version !== undefined && version !== DOCUMENT_VERSION && !version.startsWith('$')) {
      throw modeled('InvalidDocumentVersion', "The document version isn't valid or doesn't exist.");
    }
    const platforms = [...new Set(document.steps.map((s) => s.platform).filter((p) => p !== undefined))];
    return {
      Document: {
        Name: documentName,
        Hash: hash.Sha256,
        HashType: 'Sha256',
        Sha1: hash.Sha1,
        Owner: ACCOUNT_ID,
        CreatedDate: epochSeconds(this.started),
        Status: 'Active',
        DocumentVersion: DOCUMENT_VERSION,
        LatestVersion: DOCUMENT_VERSION,
        DefaultVersion: DOCUMENT_VERSION,
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
        SchemaVersion: '2.2',
        PlatformTypes: platforms,
        Parameters: [...document.params.values()].map((p) => ({
          Name: p.name,
          Type: p.type,
          ...(p.defaultValue === undefined ? {} : { DefaultValue: p.defaultValue.join(',') }),
        })),
      },
    };
  }

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html */
  private describeInstanceInformation(input: Json): Json {
    const v = new Violations();
    const maxResults = describeMaxResults(input, v);
    const filters = nodeFilters(input, v, () => new Set(this.options.fleet.nodes().map((n) => n.instanceId)));
    v.throwIfAny();
    filters.check();

    // Stopped and terminated instances are not listed at all; only running ones are, Online or
    // ConnectionLost (PingStatus, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html;
    // "Amazon EC2 instances that are stopped aren't listed", fleet-manager troubleshooting in the user guide).
    const nodes = this.options.fleet
      .nodes()
      .filter((n) => (n.state ?? 'running') === 'running')
      .filter((n) => filters.test(n));
    const query = JSON.stringify({
      op: 'DescribeInstanceInformation',
      f: input.Filters,
      l: input.InstanceInformationFilterList,
    });
    const nextToken = optionalString(input, 'NextToken');
    const offset = nextToken === undefined ? 0 : decodeToken(nextToken, query, nodes.length);
    // "The default value is 10 items." (MaxResults, API_DescribeInstanceInformation)
    const page = nodes.slice(offset, offset + (maxResults ?? 10));
    const end = offset + page.length;
    const out: Json = { InstanceInformationList: page.map((n) => instanceInformation(n, this.started)) };
    if (end < nodes.length) out.NextToken = encodeToken(query, end);
    return out;
  }

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html */
  private sendCommand(input: Json): Json {
    const request = sendCommandInput(input);
    const { documentName, documentVersion } = request;
    const doc = this.documents.get(documentName ?? '');
    if (doc === undefined)
      throw modeled('InvalidDocument', `Document with name ${documentName} does not exist.`);
    // "You can specify $DEFAULT, $LATEST, or a specific version number" (DocumentVersion, API_SendCommand);
    // a version the document does not have is InvalidDocumentVersion, "The document version isn't valid or
    // doesn't exist." (API_SendCommand Errors). Every proving-ground document has exactly version 1.
    if (documentVersion !== undefined && documentVersion !== '$DEFAULT' && documentVersion !== '$LATEST') {
      if (documentVersion !== DOCUMENT_VERSION) {
        throw modeled('InvalidDocumentVersion', "The document version isn't valid or doesn't exist.");
      }
    }
    // DocumentHash pins the content: a document of that name whose content hashes otherwise is not the
    // document asked for. SendCommand's errors name no hash-specific one; InvalidDocument is the one for a
    // document that "doesn't exist or ... isn't available to the user" (API_SendCommand Errors, and the
    // InvalidDocument shape of the service model). The message text is this proving ground's own.
    const { documentHash } = request;
    const hashType = request.documentHashType ?? 'Sha256';
    if (documentHash !== undefined && documentHash !== this.hashes.get(documentName ?? '')?.[hashType]) {
      throw modeled(
        'InvalidDocument',
        `Document ${documentName} with ${hashType} hash ${documentHash} does not exist.`,
      );
    }
    const params = resolveParameters(doc, request.given);

    const targets = commandTargets(request.instanceIds, request.targets, this.options.fleet.nodes());
    const { consistencyDelayMs } = this.options;
    const command = newCommand(doc, params, {
      ...request,
      instanceIds: [...targets.keys()],
      consistencyDelayMs,
    });
    for (const node of targets.values()) this.engine.send(command, doc, node, params);
    this.commands.push(command);
    return { Command: commandView(command, this.options.region) };
  }

  /** Eventual consistency: commands younger than `consistencyDelayMs` are not seen by reads yet. */
  private visibleCommands(): CommandState[] {
    const now = Date.now();
    return this.commands.filter((c) => c.visibleAt.getTime() <= now);
  }

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html */
  private listCommands(input: Json): Json {
    const v = new Violations();
    // CommandId, InstanceId and MaxResults (1 to 50) are alike in both list calls (API_ListCommands).
    const { commandId, instanceId, maxResults } = listInput(input, v);
    const rawFilters = optionalList(input, 'Filters');
    const tests = commandFilters(rawFilters, v);
    v.throwIfAny();

    // A command id that was never issued: InvalidCommandId (no members in the model: only __type).
    if (commandId !== undefined && !this.commands.some((c) => c.id === commandId)) {
      throw new AwsError('InvalidCommandId', 400);
    }
    // Commands still inside their consistency delay are omitted (eventual consistency, see GetCommandInvocation).
    const all = this.visibleCommands()
      .reverse()
      .filter((c) => commandId === undefined || c.id === commandId)
      .filter((c) => instanceId === undefined || c.instanceIds.includes(instanceId))
      .filter((c) => tests.every((t) => t(c)));
    const query = JSON.stringify({ op: 'ListCommands', commandId, instanceId, f: rawFilters });
    const nextToken = optionalString(input, 'NextToken');
    const offset = nextToken === undefined ? 0 : decodeToken(nextToken, query, all.length);
    // "The default value is 50" is not stated for ListCommands; 50 is the model's maximum and our page size.
    const page = all.slice(offset, offset + (maxResults ?? 50));
    const out: Json = { Commands: page.map((c) => commandView(c, this.options.region)) };
    if (offset + page.length < all.length) out.NextToken = encodeToken(query, offset + page.length);
    return out;
  }

  /**
   * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html - "Attempts to
   * cancel the command specified by the Command ID. There is no guarantee that the command will be terminated
   * and the underlying process stopped." Here: invocations not yet terminal show Cancelling for a while, then
   * become Cancelled (InvocationEngine.cancel); terminal ones are left alone. Answers `{}`.
   */
  private cancelCommand(input: Json): Json {
    const { commandId, instanceIds } = cancelCommandInput(input);
    const command = this.commands.find((c) => c.id === commandId);
    if (command === undefined) throw new AwsError('InvalidCommandId', 400);
    // A node the command was not sent to: InvalidInstanceId (API_CancelCommand Errors).
    if (instanceIds.some((id) => !command.instanceIds.includes(id)))
      throw new AwsError('InvalidInstanceId', 400);
    const chosen = command.invocations.filter(
      (i) => instanceIds.length === 0 || instanceIds.includes(i.instanceId),
    );
    for (const inv of chosen) this.engine.cancel(inv);
    return {};
  }

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html */
  private listCommandInvocations(input: Json): Json {
    const v = new Violations();
    // CommandId, InstanceId and MaxResults (1 to 50) are alike in both list calls (API_ListCommandInvocations).
    const { commandId, instanceId, maxResults } = listInput(input, v);
    const details = optionalBool(input, 'Details') ?? false;
    v.throwIfAny();

    const all = this.visibleCommands()
      .reverse()
      .filter((c) => commandId === undefined || c.id === commandId)
      .flatMap((c) => c.invocations)
      .filter((i) => instanceId === undefined || i.instanceId === instanceId);
    const query = JSON.stringify({ op: 'ListCommandInvocations', commandId, instanceId });
    const nextToken = optionalString(input, 'NextToken');
    const offset = nextToken === undefined ? 0 : decodeToken(nextToken, query, all.length);
    const page = all.slice(offset, offset + (maxResults ?? 50));
    const out: Json = {
      CommandInvocations: page.map((i) =>
        invocationView(
          i,
          this.commands.find((c) => c.id === i.commandId),
          details,
          this.options.region,
        ),
      ),
    };
    if (offset + page.length < all.length) out.NextToken = encodeToken(query, offset + page.length);
    return out;
  }

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html */
  private getCommandInvocation(input: Json): Json {
    const { commandId, instanceId, pluginName } = getCommandInvocationInput(input);
    // Right after SendCommand the invocation does not exist yet (eventual consistency: aws-cli#3546,
    // aws-sdk#86 and #190 - "list-command-invocations should return 404 if nothing is found").
    const command = this.visibleCommands().find((c) => c.id === commandId);
    const inv = command?.invocations.find((i) => i.instanceId === instanceId);
    if (command === undefined || inv === undefined) throw new AwsError('InvocationDoesNotExist', 400);

    let plugin: PluginState | undefined;
    if (pluginName !== undefined) {
      plugin = inv.plugins.find((p) => p.name === pluginName);
      if (plugin === undefined) throw new AwsError('InvalidPluginName', 400);
    } else if (inv.plugins.length === 1) {
      plugin = inv.plugins[0];
    }
    // "If the document contains more than one step, you must specify the name of the step" (PluginName):
    // without it the answer carries the invocation's status but no step output.
    return commandInvocationView(command, inv, plugin);
  }
}
