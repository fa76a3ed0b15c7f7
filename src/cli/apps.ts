import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AppDefinition } from '../core/app.ts';
import { SluiceError } from '../core/errors.ts';
import { packageRoot } from '../core/package-root.ts';
import { didYouMean } from '../core/suggest.ts';
import { type PipelineSet, importDefault, loadPipelines, loadFailure } from '../core/registry.ts';

interface Manifest {
  readonly version?: string;
  /** `"sluice": { "app": "raffle/app" }`: the app bundled with the package, as a module path without extension. */
  readonly sluice?: { readonly app?: string };
}

function manifest(): Manifest {
  return JSON.parse(readFileSync(join(packageRoot().root, 'package.json'), 'utf8')) as Manifest;
}

export function version(): string {
  return manifest().version ?? 'unknown';
}

/**
 * The app bundled with the package (the raffle app), named by the package.json's `sluice.app`:
 * loaded if it is there, so the framework works without it.
 */
async function bundledApp(): Promise<AppDefinition | undefined> {
  const app = manifest().sluice?.app;
  if (!app) return undefined;
  const { root, compiled } = packageRoot();
  const path = compiled ? join(root, 'dist', `${app}.js`) : join(root, `${app}.ts`);
  if (!existsSync(path)) return undefined;
  return ((await import(pathToFileURL(path).href)) as { default: AppDefinition }).default;
}

/** `sluice.config.json` in the working directory: the user's app, as data. */
interface ConfigFile {
  /** A module (`.ts`, `.js`) whose default export is `defineApp(...)`: for `db init`, `demo` and anything else as code. */
  readonly app?: string;
  readonly pipelines?: readonly string[];
  readonly database?: string;
  readonly routes?: Readonly<Record<string, string>>;
}

export const CONFIG_FILE = 'sluice.config.json';

function configError(path: string, message: string, cause?: unknown): SluiceError {
  return new SluiceError('USAGE', `${path}: ${message}`, { cause });
}

function readConfig(path: string): ConfigFile {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw configError(path, `not valid JSON: ${(error as Error).message}`, error);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw configError(path, 'must be a JSON object.');
  const known = ['app', 'pipelines', 'database', 'routes'];
  const unknown = Object.keys(config).find((key) => !known.includes(key));
  if (unknown !== undefined) throw configError(path, `unknown key "${unknown}"${didYouMean(unknown, known)} (known: ${known.join(', ')}).`);
  const { app, pipelines, database, routes } = config as Record<string, unknown>;
  if (app !== undefined && typeof app !== 'string') throw configError(path, '"app" must be the path of a module.');
  if (pipelines !== undefined && (!Array.isArray(pipelines) || pipelines.some((p) => typeof p !== 'string'))) throw configError(path, '"pipelines" must be a list of folders.');
  if (database !== undefined && typeof database !== 'string') throw configError(path, '"database" must be a database URL.');
  if (routes !== undefined && (typeof routes !== 'object' || routes === null || Object.values(routes).some((name) => typeof name !== 'string'))) {
    throw configError(path, '"routes" must map paths to pipeline names.');
  }
  return config as ConfigFile;
}

async function moduleApp(configPath: string, modulePath: string): Promise<AppDefinition> {
  let app: unknown;
  try {
    app = await importDefault(modulePath);
  } catch (error) {
    throw configError(configPath, `its app ${modulePath} cannot be loaded: ${loadFailure(modulePath, error)}`, error);
  }
  if (typeof app !== 'object' || app === null || typeof (app as { name?: unknown }).name !== 'string') {
    throw configError(configPath, `its app ${modulePath} must export defineApp({...}) as its default export.`);
  }
  return app as AppDefinition;
}

/** The apps `sluice.config.json` in the working directory names: its own data first, then its `app` module. */
async function configApps(cwd: string): Promise<AppDefinition[]> {
  const path = join(cwd, CONFIG_FILE);
  if (!existsSync(path)) return [];
  const config = readConfig(path);
  const data: AppDefinition = { name: path, pipelines: config.pipelines?.map((dir) => resolve(cwd, dir)), defaultDatabase: config.database, routes: config.routes };
  return config.app === undefined ? [data] : [data, await moduleApp(path, resolve(cwd, config.app))];
}

/** Folders named by `--pipelines DIR` (repeatable) and `SLUICE_PIPELINES` (a path list). */
function namedFolders(flags: readonly string[], env: NodeJS.ProcessEnv, cwd: string): AppDefinition | undefined {
  const fromEnv = (env.SLUICE_PIPELINES ?? '').split(delimiter).filter(Boolean);
  const dirs = [...fromEnv, ...flags].map((dir) => resolve(cwd, dir));
  return dirs.length ? { name: 'command line', pipelines: dirs } : undefined;
}

/** What the CLI serves and runs: every app's pipelines, the first default database, their routes. */
export interface Workspace {
  readonly apps: readonly AppDefinition[];
  readonly pipelines: PipelineSet;
  readonly defaultDatabase: string | undefined;
  readonly routes: Readonly<Record<string, string>>;
  /** The first app that can do it: `db init`, `demo`. */
  readonly initDatabase: AppDefinition['initDatabase'];
  readonly demo: AppDefinition['demo'];
}

export interface WorkspaceOptions {
  readonly pipelineFlags?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/**
 * The apps of this invocation: the user's (`--pipelines`, `SLUICE_PIPELINES`, `sluice.config.json`)
 * and the bundled one. Their pipelines load together; a name defined twice is an error.
 */
export async function workspace(options: WorkspaceOptions = {}): Promise<Workspace> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named = namedFolders(options.pipelineFlags ?? [], env, cwd);
  const user = [...(named ? [named] : []), ...(await configApps(cwd))];
  const bundled = await bundledApp();
  const apps = bundled ? [...user, bundled] : user;
  const pipelines = await loadPipelines(apps.flatMap((app) => app.pipelines ?? []));
  return {
    apps,
    pipelines,
    defaultDatabase: apps.find((app) => app.defaultDatabase)?.defaultDatabase,
    routes: Object.assign({}, ...[...apps].reverse().map((app) => app.routes ?? {})) as Record<string, string>,
    initDatabase: apps.find((app) => app.initDatabase)?.initDatabase,
    demo: apps.find((app) => app.demo)?.demo,
  };
}
