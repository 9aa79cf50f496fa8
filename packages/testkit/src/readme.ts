import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Returns the first ```ts code block after the heading `heading` in a
 * markdown file: what a README's quick start shows.
 */
export function readmeCodeBlock(readmePath: string, heading = 'Quick start'): string {
  const markdown = readFileSync(readmePath, 'utf8');
  const start = markdown.search(
    new RegExp(`^#+\\s+${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm'),
  );
  if (start === -1) throw new Error(`[redbrick/testkit] ${readmePath} has no "${heading}" heading`);
  const block = /```(?:ts|typescript)\n([\s\S]*?)```/.exec(markdown.slice(start));
  if (!block?.[1])
    throw new Error(`[redbrick/testkit] no \`\`\`ts block under "${heading}" in ${readmePath}`);
  return block[1];
}

/**
 * Runs a README's quick start as a module (inside the test runner, which
 * compiles TypeScript), from a file next to the README so package imports
 * resolve as they would for a user. Returns what it printed with console.log.
 */
export async function runReadmeQuickStart(
  readmePath: string,
  heading = 'Quick start',
): Promise<string[]> {
  const code = readmeCodeBlock(readmePath, heading);
  const dir = join(dirname(readmePath), 'test', '.readme');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `quick-start-${process.pid}-${Date.now()}.ts`);
  writeFileSync(file, code);
  const printed: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => {
    printed.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
  try {
    await import(pathToFileURL(file).href);
  } finally {
    console.log = original;
    rmSync(file, { force: true });
  }
  return printed;
}
