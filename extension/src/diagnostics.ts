/**
 * Diagnostics as you type: a flow cell's text goes to the kernel over the
 * `orchestra.diagnostics` comm (debounced by the linter), and the problems
 * Orchestra's own loader finds come back as CodeMirror lint diagnostics,
 * underlined with the message on hover. A kernel without Orchestra refuses the
 * comm: then there are no diagnostics, silently.
 */
import { Diagnostic, linter } from '@codemirror/lint';
import { Extension, Text } from '@codemirror/state';
import { Kernel, KernelMessage } from '@jupyterlab/services';

/** The comm target the kernel side registers. */
export const COMM_TARGET = 'orchestra.diagnostics';
/** Milliseconds after typing stops before the cell is checked. */
export const DEBOUNCE_MS = 400;
/** A kernel that refused the comm is asked again after this many milliseconds. */
const RETRY_MS = 1500;

/** One problem as the kernel reports it (0-based, relative to the cell text). */
export interface IKernelDiagnostic {
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  severity: 'error' | 'warning';
  message: string;
}

type Pending = (diagnostics: IKernelDiagnostic[] | null) => void;

/** The comm to one kernel: requests by id, replies matched to them. */
class DiagnosticsChannel {
  private comm: Kernel.IComm | null = null;
  private refusedAt = -Infinity;
  private pending = new Map<number, Pending>();

  constructor(readonly kernel: Kernel.IKernelConnection) {}

  /** The diagnostics of `code`, or null when the kernel has no Orchestra. */
  request(id: number, code: string): Promise<IKernelDiagnostic[] | null> {
    const comm = this.open();
    if (!comm) {
      return Promise.resolve(null);
    }
    return new Promise(resolve => {
      this.pending.set(id, resolve);
      try {
        comm.send({ id, code });
      } catch {
        this.pending.delete(id);
        resolve(null);
      }
    });
  }

  /** Drop a request superseded by a newer one (its reply will be ignored). */
  forget(id: number): void {
    const resolve = this.pending.get(id);
    this.pending.delete(id);
    resolve?.(null);
  }

  dispose(): void {
    for (const resolve of this.pending.values()) {
      resolve(null);
    }
    this.pending.clear();
    if (this.comm && !this.comm.isDisposed) {
      try {
        this.comm.close();
      } catch {
        // the kernel is gone already
      }
    }
    this.comm = null;
  }

  private open(): Kernel.IComm | null {
    if (this.comm && !this.comm.isDisposed) {
      return this.comm;
    }
    if (Date.now() - this.refusedAt < RETRY_MS || this.kernel.isDisposed) {
      return null;
    }
    let comm: Kernel.IComm;
    try {
      comm = this.kernel.createComm(COMM_TARGET);
    } catch {
      this.refusedAt = Date.now();
      return null;
    }
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      const data = msg.content.data as { id?: number; diagnostics?: IKernelDiagnostic[] };
      if (typeof data.id !== 'number') {
        return;
      }
      const resolve = this.pending.get(data.id);
      if (resolve) {
        this.pending.delete(data.id);
        resolve(Array.isArray(data.diagnostics) ? data.diagnostics : []);
      }
    };
    comm.onClose = () => {
      // Refused (no such target: a kernel without Orchestra) or closed by the kernel.
      this.refusedAt = Date.now();
      this.comm = null;
      for (const resolve of this.pending.values()) {
        resolve(null);
      }
      this.pending.clear();
    };
    try {
      comm.open();
    } catch {
      this.refusedAt = Date.now();
      return null;
    }
    this.comm = comm;
    return comm;
  }
}

const channels = new WeakMap<Kernel.IKernelConnection, DiagnosticsChannel>();
let nextId = 1;

function channelFor(kernel: Kernel.IKernelConnection): DiagnosticsChannel {
  let channel = channels.get(kernel);
  if (!channel) {
    channel = new DiagnosticsChannel(kernel);
    channels.set(kernel, channel);
    kernel.disposed.connect(() => channel?.dispose());
  }
  return channel;
}

/** Kernel positions (0-based line and column) to a document offset, clamped to the text. */
export function toOffset(doc: Text, line: number, column: number): number {
  const number = Math.min(Math.max(line, 0) + 1, doc.lines);
  const target = doc.line(number);
  return Math.min(target.from + Math.max(column, 0), target.to);
}

/** CodeMirror diagnostics from the kernel's, placed in `doc`. */
export function toDiagnostics(doc: Text, problems: IKernelDiagnostic[]): Diagnostic[] {
  return problems.map(problem => {
    const from = toOffset(doc, problem.line, problem.column);
    let to = toOffset(doc, problem.end_line, problem.end_column);
    if (to <= from) {
      to = Math.min(from + 1, doc.length);
    }
    return {
      from,
      to: Math.max(to, from),
      severity: problem.severity === 'warning' ? 'warning' : 'error',
      message: problem.message,
      source: 'orchestra'
    };
  });
}

/**
 * The linter of one cell editor: `kernel()` finds the cell's kernel now (it
 * changes on restart or when the notebook switches kernels).
 */
export function diagnosticsLinter(
  kernel: () => Kernel.IKernelConnection | null | undefined
): Extension {
  let latest: { channel: DiagnosticsChannel; id: number } | null = null;
  return linter(
    async view => {
      const connection = kernel();
      if (!connection || connection.isDisposed) {
        return [];
      }
      const channel = channelFor(connection);
      if (latest) {
        latest.channel.forget(latest.id);
      }
      const id = nextId++;
      latest = { channel, id };
      const doc = view.state.doc;
      const problems = await channel.request(id, doc.toString());
      if (!latest || latest.id !== id || problems === null) {
        return [];
      }
      return toDiagnostics(doc, problems);
    },
    { delay: DEBOUNCE_MS }
  );
}
