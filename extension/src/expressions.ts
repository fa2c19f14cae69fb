/**
 * Marks of the expressions embedded in a flow cell's YAML: `{…}` template
 * spans inside string values, and the bare JMESPath values of the fields that
 * take one (`while`, `break_when`, `iterate_over`, the values of `extract`, …).
 * Each is a mark decoration with the class `cm-orchestra-expr`.
 */
import { syntaxTree } from '@codemirror/language';
import { EditorState, RangeSetBuilder } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate
} from '@codemirror/view';
import { SyntaxNode } from '@lezer/common';

/** Fields whose value is a bare JMESPath expression. */
export const EXPRESSION_FIELDS = new Set([
  'while',
  'break_when',
  'abort_when',
  'retry_when',
  'iterate_over',
  'records',
  'when',
  'cursor_path',
  'next_path',
  'total_path',
  'total_pages_path',
  'has_more_path'
]);

/** Fields whose value is a mapping of names to bare JMESPath expressions. */
export const EXPRESSION_MAPS = new Set(['extract', 'context_updates', 'page_state_updates']);

const SCALARS = new Set(['Literal', 'QuotedLiteral']);
const TEMPLATE = /\{[^{}\n]+\}/g;
const mark = Decoration.mark({ class: 'cm-orchestra-expr' });

/** The value node of a `Pair` (what follows the colon), or null. */
function pairValue(pair: SyntaxNode): SyntaxNode | null {
  let seenColon = false;
  for (let child = pair.firstChild; child; child = child.nextSibling) {
    if (child.name === ':') {
      seenColon = true;
    } else if (seenColon && child.name !== 'Comment') {
      return child;
    }
  }
  return null;
}

function keyText(state: EditorState, pair: SyntaxNode): string | null {
  const key = pair.getChild('Key');
  if (!key) {
    return null;
  }
  return state
    .sliceDoc(key.from, key.to)
    .trim()
    .replace(/^["']|["']$/g, '');
}

/** The text range of a scalar without its quotes. */
function scalarRange(state: EditorState, node: SyntaxNode): [number, number] {
  if (node.name === 'QuotedLiteral' && node.to - node.from >= 2) {
    return [node.from + 1, node.to - 1];
  }
  return [node.from, node.to];
}

/** Every expression range of the cell, sorted, as [from, to] pairs. */
export function expressionRanges(state: EditorState): [number, number][] {
  const ranges: [number, number][] = [];
  const whole = new Set<number>(); // scalars marked whole (no template scan inside)
  const markScalar = (node: SyntaxNode | null) => {
    if (node && SCALARS.has(node.name)) {
      const [from, to] = scalarRange(state, node);
      if (to > from) {
        ranges.push([from, to]);
        whole.add(node.from);
      }
    }
  };
  const tree = syntaxTree(state);
  tree.iterate({
    enter: ref => {
      if (ref.name !== 'Pair') {
        return;
      }
      const pair = ref.node;
      const key = keyText(state, pair);
      const value = pairValue(pair);
      if (!key || !value) {
        return;
      }
      if (EXPRESSION_FIELDS.has(key)) {
        markScalar(value);
      } else if (EXPRESSION_MAPS.has(key)) {
        for (const inner of value.getChildren('Pair')) {
          markScalar(pairValue(inner));
        }
      }
    }
  });
  tree.iterate({
    enter: ref => {
      if (!SCALARS.has(ref.name) || whole.has(ref.from)) {
        return;
      }
      const text = state.sliceDoc(ref.from, ref.to);
      for (const match of text.matchAll(TEMPLATE)) {
        const from = ref.from + (match.index ?? 0);
        ranges.push([from, from + match[0].length]);
      }
    }
  });
  return ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

function decorations(state: EditorState): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  let last = -1;
  for (const [from, to] of expressionRanges(state)) {
    if (from >= last) {
      builder.add(from, to, mark);
      last = to;
    }
  }
  return builder.finish();
}

/** The view plugin that keeps the marks in step with the text and its parse. */
export const expressionMarks = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = decorations(view.state);
    }
    update(update: ViewUpdate): void {
      if (
        update.docChanged ||
        update.viewportChanged ||
        syntaxTree(update.startState) !== syntaxTree(update.state)
      ) {
        this.decorations = decorations(update.state);
      }
    }
  },
  { decorations: plugin => plugin.decorations }
);
