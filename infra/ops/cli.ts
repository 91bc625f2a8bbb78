/**
 * npm run ops -- <command> --env NAME: the operator's command line for a deployed
 * environment, with the operator's own AWS credentials. See HELP in args.ts (or
 * `npm run ops -- help`), main.ts for what each command does, exit-codes.ts for what it exits with.
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
