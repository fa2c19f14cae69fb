/**
 * The output `%flow dashboard` displays (`application/vnd.orchestra.dashboard+json`,
 * `{"db": path, "run": id | null}`): it opens the dashboard tab and leaves a
 * button in the cell to open it again.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

export const DASHBOARD_MIME = 'application/vnd.orchestra.dashboard+json';

export interface IDashboardOutput {
  db?: string;
  run?: string | null;
}

/** Opens the dashboard of an output's capture (the `orchestra:open-dashboard` command). */
export type OpenDashboard = (args: IDashboardOutput) => Promise<unknown>;

export class DashboardLink extends Widget implements IRenderMime.IRenderer {
  private opened = false;

  constructor(private readonly open: OpenDashboard) {
    super();
    this.addClass('jp-OrchestraDashboardLink');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = (model.data[DASHBOARD_MIME] ?? {}) as IDashboardOutput;
    const args: IDashboardOutput = { db: data.db, run: data.run ?? null };
    this.node.textContent = '';
    const button = document.createElement('button');
    button.className = 'jp-Button jp-mod-styled jp-mod-accept jp-OrchestraDashboardLink-button';
    button.textContent = 'Open Orchestra dashboard';
    button.title = `Open the dashboard of ${data.db ?? 'the capture file'} in a tab`;
    button.addEventListener('click', () => void this.open(args));
    const where = document.createElement('span');
    where.className = 'jp-OrchestraDashboardLink-path';
    where.textContent = data.db ? ` ${data.db}${data.run ? ` (run ${data.run})` : ''}` : '';
    this.node.append(button, where);
    // A trusted output (one the kernel just sent) opens the tab once; the command
    // brings an open tab of the same capture forward instead of opening another.
    if (!this.opened && model.trusted) {
      this.opened = true;
      await this.open(args);
    }
  }
}

export function dashboardRendererFactory(open: OpenDashboard): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [DASHBOARD_MIME],
    defaultRank: 50,
    createRenderer: () => new DashboardLink(open)
  };
}
