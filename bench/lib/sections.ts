/**
 * BENCHMARKS.md is written by more than one benchmark: the full `npm run
 * bench` rewrites the document, `npm run bench:encoding` one section of it.
 * A section lives between `<!-- section:<name> -->` and `<!-- /section:<name> -->`.
 */

const open = (name: string) => `<!-- section:${name} -->`;
const close = (name: string) => `<!-- /section:${name} -->`;

/** The document with section `name` set to `content` (appended when it has none yet). */
export function replaceSection(document: string, name: string, content: string): string {
  const block = `${open(name)}\n${content.trim()}\n${close(name)}`;
  const start = document.indexOf(open(name));
  const end = document.indexOf(close(name));
  if (start < 0 || end < start) return `${document.trimEnd()}\n\n${block}\n`;
  return `${document.slice(0, start)}${block}${document.slice(end + close(name).length)}`;
}

/** Every section of `previous` that `next` lacks, carried over (appended): a rewrite keeps what other benchmarks wrote. */
export function keepSections(previous: string, next: string): string {
  let out = next;
  for (const match of previous.matchAll(/<!-- section:([\w-]+) -->\n([\s\S]*?)\n<!-- \/section:\1 -->/g)) {
    const [, name, content] = match as unknown as [string, string, string];
    if (!out.includes(open(name))) out = replaceSection(out, name, content);
  }
  return out;
}
