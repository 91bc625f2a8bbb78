/**
 * npm run agent:build
 * Builds the real Amazon SSM Agent for `hostModel: "agent"` from ../shared/vendor/amazon-ssm-agent into its
 * cache (a no-op when the cache already holds this source's build). Exit 1 with the reason when it cannot.
 */
import { agentMissingReason, ensureAgentBuild } from '../agent/build.ts';

const missing = agentMissingReason();
if (missing) {
  process.stderr.write(`cannot build the Amazon SSM Agent: ${missing}\n`);
  process.exit(1);
}
ensureAgentBuild((line) => process.stderr.write(`${line}\n`)).then(
  ({ binDir }) => {
    process.stdout.write(`${binDir}\n`);
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
