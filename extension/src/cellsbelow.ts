/**
 * Cells from the kernel, inserted below the output that asked for them: the
 * inline flow builder's "Insert as %%flow cells below". A kernel cannot add
 * notebook cells itself, so it opens a comm on `orchestra.cells` (registered
 * here on every notebook kernel) with `{output: mark, cells: [source, …]}`;
 * the cell whose output data holds `application/vnd.orchestra.output+json:
 * {id: mark}` gets the cells right below it, as code cells, in one undoable
 * step. The answer on the comm is `{inserted: n}`, `{missing: true}` (no cell
 * of this kernel's notebooks shows that output) or `{error: text}`; then the
 * comm is closed. Kernel side: orchestra/notebook/_cells_below.py.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

/** The comm target the kernel opens. */
export const CELLS_TARGET = 'orchestra.cells';
/** The MIME entry that marks an output (never rendered: no renderer has it). */
export const OUTPUT_MIME = 'application/vnd.orchestra.output+json';

interface IInsertRequest {
  output: string;
  cells: string[];
}

function request(data: unknown): IInsertRequest | null {
  const given = data as { output?: unknown; cells?: unknown } | null;
  if (
    !given ||
    typeof given.output !== 'string' ||
    !Array.isArray(given.cells) ||
    !given.cells.every(cell => typeof cell === 'string')
  ) {
    return null;
  }
  return { output: given.output, cells: given.cells as string[] };
}

/** The index of the first cell of `panel` with an output marked `mark`, or -1. */
export function cellWithOutput(panel: NotebookPanel, mark: string): number {
  const cells = panel.content.model?.cells;
  if (!cells) {
    return -1;
  }
  for (let index = 0; index < cells.length; index++) {
    const cell = cells.get(index);
    if (cell.type !== 'code') {
      continue;
    }
    const outputs = (cell.toJSON() as { outputs?: { data?: Record<string, unknown> }[] })
      .outputs;
    const found = (outputs ?? []).some(output => {
      const value = output.data?.[OUTPUT_MIME] as { id?: unknown } | undefined;
      return value?.id === mark;
    });
    if (found) {
      return index;
    }
  }
  return -1;
}

/** Insert `sources` as code cells below cell `index` of `panel`, as one undoable change. */
export function insertBelow(panel: NotebookPanel, index: number, sources: string[]): void {
  const shared = panel.content.model?.sharedModel;
  if (!shared) {
    throw new Error('the notebook has no model');
  }
  shared.transact(() => {
    shared.insertCells(
      index + 1,
      sources.map(source => ({ cell_type: 'code', source, metadata: {} }))
    );
  });
}

/** Answer one request of `kernel` from the notebooks it runs. */
function handle(
  notebooks: INotebookTracker,
  kernel: Kernel.IKernelConnection,
  comm: Kernel.IComm,
  message: KernelMessage.ICommOpenMsg
): void {
  const asked = request(message.content.data);
  let answer: Record<string, unknown>;
  if (!asked) {
    answer = { error: 'expected {output: string, cells: [string]}' };
  } else {
    answer = { missing: true };
    const panel = notebooks.find(
      candidate =>
        candidate.sessionContext.session?.kernel === kernel &&
        cellWithOutput(candidate, asked.output) >= 0
    );
    if (panel) {
      try {
        insertBelow(panel, cellWithOutput(panel, asked.output), asked.cells);
        answer = { inserted: asked.cells.length };
      } catch (error) {
        answer = { error: String(error) };
      }
    }
  }
  try {
    comm.send(answer as KernelMessage.ICommMsgMsg['content']['data']);
    comm.close();
  } catch {
    // the kernel went away meanwhile: nobody is left to tell
  }
}

const registered = new WeakSet<Kernel.IKernelConnection>();

/** Register the comm target on every notebook kernel, now and as kernels change. */
export function watchNotebookKernels(notebooks: INotebookTracker): void {
  const register = (kernel: Kernel.IKernelConnection | null | undefined) => {
    if (!kernel || kernel.isDisposed || registered.has(kernel)) {
      return;
    }
    registered.add(kernel);
    kernel.registerCommTarget(CELLS_TARGET, (comm, message) =>
      handle(notebooks, kernel, comm, message)
    );
  };
  const watch = (panel: NotebookPanel) => {
    const context = panel.sessionContext;
    register(context.session?.kernel);
    context.kernelChanged.connect((_, change) => register(change.newValue));
    void context.ready.then(() => register(context.session?.kernel));
  };
  notebooks.forEach(watch);
  notebooks.widgetAdded.connect((_, panel) => watch(panel));
}
