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

export type ServerOptions = {
  readonly telemetryPath: string;
  readonly render: (accept: string | undefined) => Promise<{ contentType: string; body: string | Buffer }>;
  readonly landing: () => LandingInfo;
  readonly ready: () => boolean;
  readonly logger: Logger;
};

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  head = false,
): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

function routes(options: ServerOptions): Map<string, Route> {
  const text = 'text/plain; charset=utf-8';
  return new Map<string, Route>([
    [
      options.telemetryPath,
      async (req, res) => {
        const { contentType, body } = await options.render(req.headers.accept);
        send(res, 200, contentType, body, req.method === 'HEAD');
      },
    ],
    [
      '/',
      (req, res) => {
        send(
          res,
          200,
          'text/html; charset=utf-8',
          renderLandingPage(options.landing()),
          req.method === 'HEAD',
        );
      },
    ],
    [
      '/-/healthy',
      (req, res) => {
        send(res, 200, text, 'Healthy\n', req.method === 'HEAD');
      },
    ],
    [
      '/-/ready',
      (req, res) => {
        if (options.ready()) send(res, 200, text, 'Ready\n', req.method === 'HEAD');
        else send(res, 503, text, 'Not ready: first poll round still running\n', req.method === 'HEAD');
      },
    ],
  ]);
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
      send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', '405 method not allowed\n');
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      options.logger.error({ err, path }, 'request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
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
