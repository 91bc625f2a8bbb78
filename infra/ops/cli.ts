/**
 * npm run ops -- <command> --env NAME: the operator's command line for a deployed
 * environment, with the operator's own AWS credentials. See USAGE in args.ts, and main.ts
 * for what each command does. Exit codes: 0 the run did its job, 1 it did not (or the call
 * failed), 2 usage error.
 */
import { crashMessage, makeClients, runOps } from './main.ts';

runOps(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  clients: makeClients,
}).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(crashMessage(error));
    process.exit(1);
  },
);
