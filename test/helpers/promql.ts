import type { Scrape } from './ops.ts';

/**
 * Just enough PromQL to know which series a query reads: every metric selector
 * in an expression and the label names the expression relies on for it (its
 * matchers, and the `by`/`without` of an aggregation around it, and
 * `on`/`ignoring`/`group_*` beside it). Used to check that a dashboard's panels
 * and the alert rules ask for series the server really exposes. Syntax is
 * promtool's job (test/integration/operator-dashboards.test.ts runs it); this
 * reader only has to be right about names, so it is a tokenizer plus a stack
 * of parentheses, not a grammar.
 */

export interface SelectorUse {
  /** The metric name as written (`x_bucket` stays `x_bucket`). */
  metric: string;
  /** Label names the expression needs on this metric: matchers, grouping, vector matching. */
  labels: string[];
}

type Token = { kind: 'ident' | 'string' | 'number' | 'variable' | 'punct'; text: string };

/** Aggregation operators: may carry `by (…)`/`without (…)` before or after their arguments. */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
/** Words that are never metric names where they stand. */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const PUNCT = ['==', '!=', '=~', '!~', '>=', '<=', '{', '}', '(', ')', '[', ']', ',', '=', '>', '<', '+', '-', '*', '/', '%', '^', '@'];

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`PromQL: ${what} at offset ${i} of ${JSON.stringify(expr)}`);
  };
  while (i < expr.length) {
    const rest = expr.slice(i);
    const space = /^(?:\s+|#[^\n]*)/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const quote = rest[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      let j = 1;
      let text = '';
      while (j < rest.length && rest[j] !== quote) {
        if (rest[j] === '\\' && quote !== '`') j++;
        text += rest[j] ?? '';
        j++;
      }
      if (j >= rest.length) fail('unterminated string');
      tokens.push({ kind: 'string', text });
      i += j + 1;
      continue;
    }
    // Grafana's template variables: `$__rate_interval`, `$instance`, `${instance}`, `${instance:regex}`.
    const variable = /^\$(?:\{[^}]+\}|\w+)/.exec(rest);
    if (variable) {
      tokens.push({ kind: 'variable', text: variable[0] });
      i += variable[0].length;
      continue;
    }
    const number = /^(?:0x[0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z0-9]*)/.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0] });
      i += number[0].length;
      continue;
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest);
    if (ident) {
      tokens.push({ kind: 'ident', text: ident[0] });
      i += ident[0].length;
      continue;
    }
    const punct = PUNCT.find((p) => rest.startsWith(p));
    if (!punct) fail(`unexpected ${JSON.stringify(rest[0])}`);
    tokens.push({ kind: 'punct', text: punct as string });
    i += (punct as string).length;
  }
  return tokens;
}

interface Frame {
  /** Indexes (into `uses`) of every selector inside these parentheses, at any depth. */
  selectors: number[];
  /** Grouping labels given before the arguments (`sum by (x) (…)`): they apply to what is inside. */
  grouping: string[];
  aggregation: boolean;
  /** `on`/`ignoring`/`group_*` labels of binary operators directly in this frame. */
  matching: string[];
}

/**
 * Every metric selector in `expr`, in order of appearance, with the label names
 * the expression needs on it. Grafana variables are ignored wherever they
 * stand; range and subquery brackets are skipped. Throws on what it cannot
 * read (an unterminated string, a `{…}` selector without a fixed `__name__`).
 */
export function metricSelectors(expr: string): SelectorUse[] {
  const tokens = tokenize(expr);
  const uses: { metric: string; labels: Set<string> }[] = [];
  const root: Frame = { selectors: [], grouping: [], aggregation: false, matching: [] };
  const stack: Frame[] = [root];
  const at = (k: number) => tokens[k];
  const isPunct = (k: number, text: string) => at(k)?.kind === 'punct' && at(k)?.text === text;
  /** Reads `( a, b )` starting at k (which must be `(`); returns the names and the index after `)`. */
  const labelList = (k: number): [string[], number] => {
    const names: string[] = [];
    let j = k + 1;
    for (; j < tokens.length && !isPunct(j, ')'); j++) {
      const token = at(j) as Token;
      if (token.kind === 'ident' || token.kind === 'string') names.push(token.text);
    }
    return [names, j + 1];
  };
  /** Reads `{ matchers }` starting at k; returns label names, a fixed `__name__` if any, and the index after `}`. */
  const matchers = (k: number): [string[], string | undefined, number] => {
    const names: string[] = [];
    let name: string | undefined;
    let j = k + 1;
    while (j < tokens.length && !isPunct(j, '}')) {
      const label = at(j) as Token;
      if (label.kind === 'ident' || label.kind === 'string') {
        const op = at(j + 1)?.text;
        const value = at(j + 2);
        if (label.text === '__name__') {
          if (op === '=' && value?.kind === 'string') name = value.text;
        } else {
          names.push(label.text);
        }
        j += 3;
      } else {
        j++;
      }
    }
    return [names, name, j + 1];
  };
  const addSelector = (metric: string, labels: string[]) => {
    uses.push({ metric, labels: new Set(labels) });
    for (const frame of stack) frame.selectors.push(uses.length - 1);
  };
  const applyLabels = (indexes: number[], labels: string[]) => {
    for (const index of indexes) for (const label of labels) uses[index]?.labels.add(label);
  };
  let pendingGrouping: string[] | undefined;
  let pendingAggregation = false;
  /** The aggregation whose `)` was just read: a trailing `by (…)` belongs to it. */
  let justClosed: Frame | undefined;

  for (let k = 0; k < tokens.length;) {
    const token = at(k) as Token;
    const closed = justClosed;
    justClosed = undefined;
    if (token.kind === 'punct') {
      if (token.text === '[') {
        // Ranges and subqueries hold durations and variables, never selectors.
        while (k < tokens.length && !isPunct(k, ']')) k++;
        k++;
        continue;
      }
      if (token.text === '(') {
        stack.push({ selectors: [], grouping: pendingGrouping ?? [], aggregation: pendingAggregation, matching: [] });
        pendingGrouping = undefined;
        pendingAggregation = false;
        k++;
        continue;
      }
      if (token.text === ')') {
        const frame = stack.pop();
        if (!frame || stack.length === 0) throw new Error(`PromQL: unbalanced ) in ${JSON.stringify(expr)}`);
        applyLabels(frame.selectors, [...frame.grouping, ...frame.matching]);
        if (frame.aggregation) justClosed = frame;
        k++;
        continue;
      }
      if (token.text === '{') {
        const [labels, name, next] = matchers(k);
        if (!name) throw new Error(`PromQL: a selector without a fixed __name__ in ${JSON.stringify(expr)}`);
        addSelector(name, labels);
        k = next;
        continue;
      }
      k++;
      continue;
    }
    if (token.kind !== 'ident') {
      k++;
      continue;
    }
    const word = token.text;
    if (LABEL_LISTS.has(word.toLowerCase())) {
      const lower = word.toLowerCase();
      if (!isPunct(k + 1, '(')) {
        k++; // `group_left` without a list
        continue;
      }
      const [labels, next] = labelList(k + 1);
      if (lower === 'by' || lower === 'without') {
        if (closed) applyLabels(closed.selectors, labels);
        else pendingGrouping = labels;
      } else {
        (stack.at(-1) as Frame).matching.push(...labels);
      }
      k = next;
      continue;
    }
    if (AGGREGATIONS.has(word.toLowerCase()) && (isPunct(k + 1, '(') || /^(by|without)$/i.test(at(k + 1)?.text ?? ''))) {
      pendingAggregation = true;
      k++;
      continue;
    }
    if (isPunct(k + 1, '(')) {
      k++; // a function call
      continue;
    }
    if (KEYWORDS.has(word.toLowerCase())) {
      k++;
      continue;
    }
    if (isPunct(k + 1, '{')) {
      const [labels, , next] = matchers(k + 1);
      addSelector(word, labels);
      k = next;
      continue;
    }
    addSelector(word, []);
    k++;
  }
  if (stack.length !== 1) throw new Error(`PromQL: unbalanced ( in ${JSON.stringify(expr)}`);
  applyLabels(root.selectors, root.matching);
  return uses.map(({ metric, labels }) => ({ metric, labels: [...labels] }));
}

/** Series Prometheus makes itself, never in an exporter's /metrics. */
export const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'ALERTS', 'ALERTS_FOR_STATE']);
/** Labels Prometheus attaches to every scraped series (target labels). */
export const TARGET_LABELS = new Set(['instance', 'job']);

const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
  counter: ['_total'],
};

/** The `# TYPE` family a sample name belongs to (`x_bucket` → `x` when x is a histogram); undefined when none. */
export function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const suffix of suffixes) {
      if (name.endsWith(suffix) && types.get(name.slice(0, -suffix.length)) === type) return name.slice(0, -suffix.length);
    }
  }
  return undefined;
}

/**
 * What is wrong with `expr` against a scrape: each metric it reads must be a
 * family with a `# TYPE` line (histogram and summary parts resolved to their
 * family), and each label it relies on must appear on a sample of that exact
 * name (target labels aside). A labelled metric with no sample yet cannot
 * show its labels: that is reported too, so a test makes traffic first rather
 * than passing on nothing. Returns one message per problem; empty when fine.
 */
export function problemsAgainstScrape(expr: string, scrape: Pick<Scrape, 'samples' | 'types'>): string[] {
  const labelsByName = new Map<string, Set<string>>();
  for (const sample of scrape.samples) {
    const names = labelsByName.get(sample.name) ?? new Set<string>();
    for (const label of Object.keys(sample.labels)) names.add(label);
    labelsByName.set(sample.name, names);
  }
  const problems: string[] = [];
  for (const { metric, labels } of metricSelectors(expr)) {
    if (PROMETHEUS_SERIES.has(metric)) continue;
    if (!familyOf(metric, scrape.types)) {
      problems.push(`${metric}: not in /metrics`);
      continue;
    }
    const needed = labels.filter((label) => !TARGET_LABELS.has(label));
    if (needed.length === 0) continue;
    const present = labelsByName.get(metric);
    if (!present) {
      problems.push(`${metric}: no sample yet, so its labels (${needed.join(', ')}) cannot be checked`);
      continue;
    }
    for (const label of needed) if (!present.has(label)) problems.push(`${metric}: has no label "${label}"`);
  }
  return problems;
}
