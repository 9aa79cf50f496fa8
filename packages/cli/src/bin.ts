#!/usr/bin/env node
import { runCli } from './cli.js';

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
process.exitCode = code;
// A reconnect timer of a client that never connected must not hold the process open.
setTimeout(() => process.exit(code), 200).unref();
