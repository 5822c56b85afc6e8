/** HTTP: /metrics, the landing page, health and readiness. No business logic lives here. */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import { renderLandingPage, type LandingInfo } from './landing-page.js';

type Rendered = { contentType: string; body: string | Buffer; contentEncoding?: 'gzip' };

export type ServerOptions = {
  readonly telemetryPath: string;
  readonly render: (accept: string | undefined, acceptEncoding?: string) => Rendered | Promise<Rendered>;
  readonly landing: () => LandingInfo;
  readonly ready: () => boolean;
  readonly logger: Logger;
  /** POST or PUT /-/reload: re-read the configuration (as Prometheus does). */
  readonly reload?: () => Promise<{ ok: true } | { ok: false; error: string }>;
};

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
type Route = { readonly methods: readonly string[]; readonly handle: Handler };

const text = 'text/plain; charset=utf-8';
const read = ['GET', 'HEAD'] as const;

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  head = false,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

type Answer = [status: number, contentType: string, body: string | Buffer, headers?: Record<string, string>];

/** A GET/HEAD route; HEAD gets the headers only. A ready answer is sent in the same tick. */
function page(answer: (req: IncomingMessage) => Answer | Promise<Answer>): Route {
  return {
    methods: read,
    handle: (req, res) => {
      const reply = ([status, contentType, body, headers]: Answer): void => {
        send(res, status, contentType, body, req.method === 'HEAD', headers);
      };
      const answered = answer(req);
      if (answered instanceof Promise) return answered.then(reply);
      reply(answered);
      return undefined;
    },
  };
}

function metricsAnswer({ contentType, body, contentEncoding }: Rendered): Answer {
  // Vary either way: a cache must not hand the gzipped body to a client that did not ask for it.
  const headers: Record<string, string> = { Vary: 'Accept-Encoding' };
  if (contentEncoding) headers['Content-Encoding'] = contentEncoding;
  return [200, contentType, body, headers];
}

function routes(options: ServerOptions): Map<string, Route> {
  const table = new Map<string, Route>([
    [
      options.telemetryPath,
      page((req) => {
        const rendered = options.render(req.headers.accept, req.headers['accept-encoding']);
        return rendered instanceof Promise ? rendered.then(metricsAnswer) : metricsAnswer(rendered);
      }),
    ],
    ['/', page(() => [200, 'text/html; charset=utf-8', renderLandingPage(options.landing())])],
    ['/-/healthy', page(() => [200, text, 'Healthy\n'])],
    [
      '/-/ready',
      page(() =>
        options.ready() ? [200, text, 'Ready\n'] : [503, text, 'Not ready: first poll round still running\n'],
      ),
    ],
  ]);
  const { reload } = options;
  if (reload) {
    table.set('/-/reload', {
      methods: ['POST', 'PUT'],
      handle: async (_req, res) => {
        const result = await reload();
        if (result.ok) send(res, 200, text, 'Reloaded\n');
        else send(res, 500, text, `failed to reload config: ${result.error}\n`);
      },
    });
  }
  return table;
}

/** Plain HTTP; with `--web.config.file` the same listener goes behind src/web/serve.ts. */
export function createHttpServer(options: ServerOptions): Server {
  return createServer(createRequestListener(options));
}

export function createRequestListener(options: ServerOptions): RequestListener {
  const table = routes(options);
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = table.get(path);
    if (!route) {
      send(res, 404, text, '404 page not found\n');
      return;
    }
    if (!route.methods.includes(req.method ?? '')) {
      res.setHeader('Allow', route.methods.join(', '));
      send(res, 405, text, '405 method not allowed\n');
      return;
    }
    // A synchronous answer (a current /metrics body) costs no promise: this is the hot path.
    route.handle(req, res)?.catch((err: unknown) => {
      options.logger.error({ err, path }, 'request failed');
      if (!res.headersSent) send(res, 500, text, 'internal error\n');
      else res.destroy();
    });
  };
}

/** Parses `host:port`, `:port` or `[v6]:port`. An empty host listens on every interface. */
export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`listen address "${address}" is not host:port`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

export async function listen(server: Server, address: string): Promise<AddressInfo> {
  const { host, port } = parseListenAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}
