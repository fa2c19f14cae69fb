/**
 * Orchestra's JupyterLab extension: `%%flow` cells as YAML with their
 * expressions marked and the loader's problems underlined as you type, the
 * run dashboard in a Lab tab (launcher card, command palette, `%flow dashboard`
 * outputs), and cells the kernel asks for inserted below the output that asked
 * (the inline builder's "Insert as %%flow cells below").
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IFrame,
  InputDialog,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry
} from '@jupyterlab/codemirror';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Kernel } from '@jupyterlab/services';

import {
  IDashboardArgs,
  captureOf,
  createDashboardWidget,
  dashboardIcon,
  resolveCapture
} from './dashboard';
import { watchNotebookKernels } from './cellsbelow';
import { diagnosticsLinter } from './diagnostics';
import { flowCellExtension } from './flowcell';
import { dashboardRendererFactory } from './mime';

const OPEN_DASHBOARD = 'orchestra:open-dashboard';
const OPEN_DASHBOARD_OF = 'orchestra:open-dashboard-of';
const OPEN_DASHBOARD_OF_FILE = 'orchestra:open-dashboard-of-file';
const CAPTURE_FILE_TYPE = 'orchestra-capture';

/** `%%flow` cells: YAML, expression marks and diagnostics from the cell's kernel. */
const flowCells: JupyterFrontEndPlugin<void> = {
  id: 'orchestra-jupyterlab:flow-cells',
  description: '%%flow cells as YAML with expressions marked and diagnostics as you type.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  optional: [INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    extensions: IEditorExtensionRegistry,
    notebooks: INotebookTracker | null
  ) => {
    extensions.addExtension({
      name: 'orchestra:flow-cells',
      factory: options => {
        const model = options.model;
        const kernel = (): Kernel.IKernelConnection | null => {
          const panel = notebooks?.find(candidate =>
            candidate.content.widgets.some(cell => cell.model === model)
          );
          return panel?.sessionContext.session?.kernel ?? null;
        };
        return EditorExtensionRegistry.createImmutableExtension(
          flowCellExtension(diagnosticsLinter(kernel))
        );
      }
    });
  }
};

/** The dashboard in a main-area tab: command, palette entries, launcher card, MIME output. */
const dashboard: JupyterFrontEndPlugin<void> = {
  id: 'orchestra-jupyterlab:dashboard',
  description: 'The Orchestra run dashboard in a JupyterLab tab.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ILauncher, ICommandPalette, ILayoutRestorer, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    browser: IDefaultFileBrowser | null
  ) => {
    const tracker = new WidgetTracker<MainAreaWidget<IFrame>>({
      namespace: 'orchestra-dashboard'
    });
    const currentDirectory = () => browser?.model.path ?? '';

    app.commands.addCommand(OPEN_DASHBOARD, {
      label: args => (args.isLauncher ? 'Orchestra dashboard' : 'Open Orchestra Dashboard'),
      caption: 'The run dashboard of the capture file (orchestra.duckdb) of the current directory',
      icon: args => (args.isLauncher ? dashboardIcon : undefined),
      execute: async args => {
        const given = args as IDashboardArgs;
        const db = given.db ? resolveCapture(given.db) : captureOf(currentDirectory());
        const run = given.run ?? null;
        const existing = tracker.find(
          widget => widget.node.dataset.db === db && (widget.node.dataset.run ?? '') === (run ?? '')
        );
        if (existing) {
          app.shell.activateById(existing.id);
          return existing;
        }
        const widget = createDashboardWidget(db, run);
        widget.node.dataset.db = db;
        if (run) {
          widget.node.dataset.run = run;
        }
        await tracker.add(widget);
        // From a notebook output: beside the notebook, which stays in view.
        app.shell.add(widget, 'main', given.split ? { mode: 'split-right' } : undefined);
        app.shell.activateById(widget.id);
        return widget;
      }
    });

    app.commands.addCommand(OPEN_DASHBOARD_OF, {
      label: 'Open Orchestra Dashboard of a Capture File…',
      caption: 'The run dashboard of a chosen capture file',
      execute: async () => {
        const answer = await InputDialog.getText({
          title: 'Capture file (relative to the Jupyter root, or absolute)',
          text: captureOf(currentDirectory())
        });
        if (answer.button.accept && answer.value) {
          return app.commands.execute(OPEN_DASHBOARD, { db: answer.value });
        }
      }
    });

    // A capture file in the file browser: right-click, "Open in Orchestra Dashboard".
    app.docRegistry.addFileType({
      name: CAPTURE_FILE_TYPE,
      displayName: 'Orchestra capture (DuckDB)',
      extensions: ['.duckdb'],
      mimeTypes: ['application/vnd.duckdb'],
      contentType: 'file',
      fileFormat: 'base64',
      icon: dashboardIcon
    });
    app.commands.addCommand(OPEN_DASHBOARD_OF_FILE, {
      label: 'Open in Orchestra Dashboard',
      icon: dashboardIcon,
      isVisible: () => !!browser?.selectedItems().next()?.value,
      execute: () => {
        const item = browser?.selectedItems().next()?.value;
        return item ? app.commands.execute(OPEN_DASHBOARD, { db: item.path }) : undefined;
      }
    });
    app.contextMenu.addItem({
      command: OPEN_DASHBOARD_OF_FILE,
      selector: `.jp-DirListing-item[data-file-type="${CAPTURE_FILE_TYPE}"]`,
      rank: 1
    });

    launcher?.add({
      command: OPEN_DASHBOARD,
      category: 'Orchestra',
      rank: 0,
      args: { isLauncher: true }
    });
    palette?.addItem({ command: OPEN_DASHBOARD, category: 'Orchestra' });
    palette?.addItem({ command: OPEN_DASHBOARD_OF, category: 'Orchestra' });
    void restorer?.restore(tracker, {
      command: OPEN_DASHBOARD,
      args: widget => ({ db: widget.node.dataset.db ?? '', run: widget.node.dataset.run ?? null }),
      name: widget => `${widget.node.dataset.db}#${widget.node.dataset.run ?? ''}`
    });

    rendermime.addFactory(
      dashboardRendererFactory(args =>
        app.commands.execute(OPEN_DASHBOARD, {
          db: args.db ?? '',
          run: args.run ?? null,
          split: true
        })
      )
    );
  }
};

/** Cells from the kernel (the builder's export) inserted below the output that asked. */
const cellsBelow: JupyterFrontEndPlugin<void> = {
  id: 'orchestra-jupyterlab:cells-below',
  description: 'Inserts the cells a kernel sends on orchestra.cells below the asking output.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, notebooks: INotebookTracker) => {
    watchNotebookKernels(notebooks);
  }
};

export default [flowCells, dashboard, cellsBelow];
