/**
 * The Orchestra dashboard in a Lab tab: an iframe on the dashboard server that
 * jupyter-server-proxy starts behind the Jupyter server (`/orchestra-dashboard/`),
 * showing the capture file given in the URL.
 */
import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import { PageConfig, PathExt, URLExt } from '@jupyterlab/coreutils';

/** The path under the Jupyter base URL where the proxied dashboard answers. */
export const PROXY_PATH = 'orchestra-dashboard/';
/** The capture file `orchestra` writes by default, in the working directory. */
export const DEFAULT_CAPTURE = 'orchestra.duckdb';

export interface IDashboardArgs {
  db?: string;
  run?: string | null;
}

/** The capture file of a directory relative to the server root, as an absolute path. */
export function captureOf(directory: string): string {
  const root = PageConfig.getOption('serverRoot') || '.';
  return PathExt.join(root, directory, DEFAULT_CAPTURE).replace(/^(?!\/|~)/, './');
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
  return widget;
}
