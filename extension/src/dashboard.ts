/**
 * The Orchestra dashboard in a Lab tab: an iframe on the dashboard server that
 * jupyter-server-proxy starts behind the Jupyter server (`/orchestra-dashboard/`),
 * showing the capture file given in the URL.
 */
import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { PageConfig, PathExt, URLExt } from '@jupyterlab/coreutils';

/** The path under the Jupyter base URL where the proxied dashboard answers. */
export const PROXY_PATH = 'orchestra-dashboard/';
/** The capture file `orchestra` writes by default, in the working directory. */
export const DEFAULT_CAPTURE = 'orchestra.duckdb';

/** The dashboard's icon: a flow graph of three steps. */
export const dashboardIcon = new LabIcon({
  name: 'orchestra:dashboard',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<circle cx="5" cy="6" r="3"/><circle cx="19" cy="6" r="3"/><circle cx="12" cy="18" r="3"/>' +
    '<path d="M7.5 7.5l3.5 8 1.2-.5-3.5-8zM16.5 7.5l-3.5 8-1.2-.5 3.5-8zM8 5.4h8v1.2H8z"/>' +
    '</g></svg>'
});

export interface IDashboardArgs {
  db?: string;
  run?: string | null;
  /** Open beside the current widget (split right) rather than as a tab over it. */
  split?: boolean;
}

/** The capture file of a directory relative to the server root, as an absolute path. */
export function captureOf(directory: string): string {
  return resolveCapture(directory ? `${directory}/${DEFAULT_CAPTURE}` : DEFAULT_CAPTURE);
}

/** Absolute paths and `~` stay; a relative one is taken from the server root. */
export function resolveCapture(db: string): string {
  if (db.startsWith('/') || db.startsWith('~') || /^[A-Za-z]:[\\/]/.test(db)) {
    return db;
  }
  const root = PageConfig.getOption('serverRoot') || '.';
  return `${root.replace(/\/$/, '')}/${db}`;
}

/** The dashboard URL for a capture file (and a run). */
export function dashboardUrl(args: IDashboardArgs): string {
  const query: string[] = [];
  if (args.db) {
    query.push(`db=${encodeURIComponent(args.db)}`);
  }
  if (args.run) {
    query.push(`run=${encodeURIComponent(args.run)}`);
  }
  const base = URLExt.join(PageConfig.getBaseUrl(), PROXY_PATH);
  return query.length ? `${base}?${query.join('&')}` : base;
}

/** A main-area tab showing the dashboard of `db`. */
export function createDashboardWidget(db: string, run?: string | null): MainAreaWidget<IFrame> {
  const frame = new IFrame({
    sandbox: [
      'allow-scripts',
      'allow-same-origin',
      'allow-forms',
      'allow-popups',
      'allow-downloads',
      'allow-modals'
    ]
  });
  frame.url = dashboardUrl({ db, run });
  frame.addClass('jp-OrchestraDashboard-frame');
  const widget = new MainAreaWidget({ content: frame });
  widget.id = `orchestra-dashboard-${Date.now()}`;
  widget.addClass('jp-OrchestraDashboard');
  widget.title.label = `Dashboard: ${PathExt.basename(db)}`;
  widget.title.caption = `Orchestra dashboard of ${db}${run ? ` (run ${run})` : ''}`;
  widget.title.closable = true;
  widget.title.icon = dashboardIcon;
  return widget;
}
