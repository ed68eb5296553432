import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

/** Every .ts file under a folder, as absolute paths. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/**
 * Relative specifiers a file depends on, type imports included: a type-only arrow is still an
 * arrow a reader (and a refactor) has to follow. Covers `import … from`, `export … from`
 * (multi-line too), bare `import './x'`, `import('./x')` (also in type positions) and `require`.
 */
export function relativeImports(source: string): string[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const patterns = [
    /\b(?:import|export)\s[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  const found = new Set<string>();
  for (const pattern of patterns) {
    for (const match of withoutComments.matchAll(pattern)) {
      if (match[1].startsWith('.')) found.add(match[1]);
    }
  }
  return [...found];
}

function resolve(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier.replace(/\.js$/, ''));
  return [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

export function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = relativeImports(readFileSync(file, 'utf8')).map((specifier) => {
      const target = resolve(file, specifier);
      if (target === undefined) throw new Error(`${path.relative(ROOT, file)}: cannot resolve import '${specifier}'`);
      return target;
    });
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/** One cycle per strongly connected component (Tarjan), each written as a closed path a → b → a. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];

  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    const selfLoop = (graph.get(node) ?? []).includes(node);
    if (component.length > 1 || selfLoop) cycles.push(cyclePath(graph, new Set(component), node));
  };

  for (const node of [...graph.keys()].sort()) if (!index.has(node)) connect(node);
  return cycles;
}

/** A shortest closed walk from `start` back to itself inside one component (breadth-first). */
function cyclePath(graph: Map<string, string[]>, component: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const walk = [node];
        while (walk[0] !== start) walk.unshift(previous.get(walk[0])!);
        return [...walk, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

describe('import graph of src/', () => {
  const files = sourceFiles(SRC);
  const graph = importGraph(files);
  const name = (file: string): string => path.relative(SRC, file);

  it('reads the imports it is meant to judge', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(graph.get(path.join(SRC, 'workflows', 'index.ts'))?.length).toBeGreaterThan(0);
  });

  it('has no cycle, type imports included', () => {
    const cycles = findCycles(graph).map((cycle) => cycle.map(name).join(' → '));
    expect(cycles).toEqual([]);
  });

  /**
   * The folders (and the loose files of src/, such as config.ts) are the rooms of the house; the
   * arrows between rooms must be one-way too, or a change in one room ripples back into itself.
   * One arrow is allowed against the flow: activities/lock.ts is the lock workflow's client (it
   * signal-starts it), so it imports the lock's shared definitions, which must sit beside the
   * workflow for the sandbox guard (workflow-imports.test.ts) to allow the workflow to import them.
   */
  const ALLOWED_ROOM_ARROWS = new Set(['activities/lock.ts → workflows/app-lock-api.ts']);

  it('has no cycle between folders either', () => {
    const room = (file: string): string => name(file).split(path.sep)[0].replace(/\.ts$/, '');
    const witnesses = new Map<string, string[]>();
    const rooms = new Map<string, string[]>();
    for (const [file, targets] of graph) {
      const from = room(file);
      if (!rooms.has(from)) rooms.set(from, []);
      for (const target of targets) {
        const to = room(target);
        const arrow = `${name(file)} → ${name(target)}`;
        if (from === to || ALLOWED_ROOM_ARROWS.has(arrow)) continue;
        if (!rooms.get(from)!.includes(to)) rooms.get(from)!.push(to);
        witnesses.set(`${from}>${to}`, [...(witnesses.get(`${from}>${to}`) ?? []), arrow]);
      }
    }
    const cycles = findCycles(rooms).map((cycle) =>
      cycle
        .slice(1)
        .map((to, i) => `${cycle[i]} → ${to} (${witnesses.get(`${cycle[i]}>${to}`)!.join(', ')})`)
        .join('; '),
    );
    expect(cycles).toEqual([]);
    // The allowance must not outlive the arrow it allows.
    for (const arrow of ALLOWED_ROOM_ARROWS) {
      const [from, to] = arrow.split(' → ').map((file) => path.join(SRC, file));
      expect({ arrow, present: graph.get(from)?.includes(to) }).toEqual({ arrow, present: true });
    }
  });

  it('finds a cycle when there is one, and parses every import form', () => {
    expect(
      relativeImports(
        [
          "import { a } from './a';",
          "import type {\n  B,\n} from '../b';",
          "export * from './c';",
          "import './d';",
          "type E = import('./e').E;",
          "const f = require('./f');",
          "// import { g } from './g';",
          "import { z } from 'zod';",
        ].join('\n'),
      ).sort(),
    ).toEqual(['../b', './a', './c', './d', './e', './f']);
    const cycles = findCycles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a', 'd']],
        ['d', []],
        ['e', ['e']],
      ]),
    );
    expect(cycles).toEqual([['a', 'b', 'c', 'a'], ['e', 'e']]);
  });
});
