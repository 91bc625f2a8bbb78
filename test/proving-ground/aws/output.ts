/**
 * How Run Command cuts a plugin's output, reproduced from the SSM Agent source
 * (github.com/aws/amazon-ssm-agent, `agent/framework/processor/executer/iohandler/iohandler.go`).
 *
 * Lengths are counted in JavaScript string units where the agent (Go) counts bytes; for ASCII output the
 * two agree.
 */

/**
 * `CommandPlugin.Output` (ListCommandInvocations with Details): at most 2,500 characters.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandPlugin.html
 * (`Output`, Length Constraints: Maximum length of 2500; agent constant MaximumPluginOutputSize = 2500).
 */
export const PLUGIN_OUTPUT_LIMIT = 2500;

/**
 * `GetCommandInvocation.StandardOutputContent` / `StandardErrorContent`: "The first 24,000 characters
 * written by the plugin to stdout" / "The first 8,000 characters written by the plugin to stderr".
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 */
export const STDOUT_CONTENT_LIMIT = 24000;
export const STDERR_CONTENT_LIMIT = 8000;

const ERROR_TITLE = '\n----------ERROR-------\n';
const TRUNCATE_OUT = '\n---Output truncated---';
const TRUNCATE_ERROR = '\n---Error truncated----';
/** The agent's `OutputTruncatedSuffix` for the 24,000 / 8,000 cut (DefaultOutputConfig). */
const CONTENT_TRUNCATED_SUFFIX = '--output truncated--';

/** Port of the agent's `TruncateOutput(stdout, stderr, capacity)`, branch for branch. */
export function truncateOutput(stdout: string, stderr: string, capacity = PLUGIN_OUTPUT_LIMIT): string {
  const outputSize = stdout.length;
  const errorSize = stderr.length;
  const errorTitle = errorSize > 0 ? ERROR_TITLE : '';
  const availableSpace = capacity - errorTitle.length;

  // all fits within availableSpace
  if (outputSize + errorSize < availableSpace) return stdout + errorTitle + stderr;

  // truncate out and error when both exceed the size
  if (outputSize > availableSpace / 2 && errorSize > availableSpace / 2) {
    const truncateSize = availableSpace - TRUNCATE_ERROR.length - TRUNCATE_OUT.length;
    const half = Math.trunc(truncateSize / 2);
    return stdout.slice(0, half) + TRUNCATE_OUT + errorTitle + stderr.slice(0, half) + TRUNCATE_ERROR;
  }

  // truncate error when output is short
  if (outputSize < availableSpace / 2) {
    const truncateSize = availableSpace - TRUNCATE_ERROR.length;
    return stdout + errorTitle + stderr.slice(0, truncateSize - outputSize) + TRUNCATE_ERROR;
  }

  // truncate output when error is short
  const truncateSize = availableSpace - TRUNCATE_OUT.length;
  return stdout.slice(0, truncateSize - errorSize) + TRUNCATE_OUT + errorTitle + stderr;
}

/**
 * Port of the agent's `ReadPrefix(input, maxLength, truncatedSuffix)`: content that reaches the limit is
 * cut to `maxLength - len(suffix)` characters and the suffix appended, so the result is exactly
 * `maxLength` long. (Like the agent, content of exactly `maxLength` characters counts as truncated.)
 */
export function readPrefix(content: string, maxLength: number, suffix = CONTENT_TRUNCATED_SUFFIX): string {
  if (content.length < maxLength) return content;
  if (maxLength > suffix.length) return content.slice(0, maxLength - suffix.length) + suffix;
  return suffix.slice(0, maxLength);
}
