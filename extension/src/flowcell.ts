/**
 * `%%flow` cells read as YAML: a compartment per cell editor holds the YAML
 * language (above the notebook's own), the marks of embedded expressions and the
 * diagnostics linter while the first line starts with `%%flow`, nothing otherwise.
 */
import { yaml } from '@codemirror/lang-yaml';
import { Compartment, EditorState, Extension, Prec, Text } from '@codemirror/state';
import { EditorView, ViewPlugin } from '@codemirror/view';

import { expressionMarks } from './expressions';

/** The magic that makes a cell a flow cell. */
export const FLOW_MAGIC = '%%flow';

/** Whether a cell's text is a `%%flow` cell: its first line starts with the magic. */
export function isFlowCell(doc: Text): boolean {
  return doc.line(1).text.startsWith(FLOW_MAGIC);
}

/**
 * The editor extension of one cell: YAML and its extras while the cell is a
 * flow cell. `extra` adds per-cell extensions (the diagnostics linter).
 */
export function flowCellExtension(extra: Extension = []): Extension {
  const compartment = new Compartment();
  const flow: Extension = [
    Prec.highest(yaml()),
    expressionMarks,
    extra,
    EditorView.editorAttributes.of({ 'data-orchestra-flow': 'true' })
  ];
  const reconfigure = (state: EditorState, doc: Text) => {
    const want = isFlowCell(doc);
    const have = compartment.get(state) === flow;
    return want === have ? null : compartment.reconfigure(want ? flow : []);
  };
  return [
    compartment.of([]),
    // Every edit (typing, pasting, a collaborator's change) switches the compartment in
    // the same transaction when the magic appears or goes.
    EditorState.transactionExtender.of(tr => {
      if (!tr.docChanged) {
        return null;
      }
      const effect = reconfigure(tr.startState, tr.newDoc);
      return effect ? { effects: effect } : null;
    }),
    // An editor created with its text already in place switches right after creation
    // (no dispatch is allowed while the view is being built).
    ViewPlugin.define(view => {
      let live = true;
      queueMicrotask(() => {
        const effect = live ? reconfigure(view.state, view.state.doc) : null;
        if (effect) {
          view.dispatch({ effects: effect });
        }
      });
      return {
        destroy: () => {
          live = false;
        }
      };
    })
  ];
}
