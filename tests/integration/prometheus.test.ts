// SPDX-License-Identifier: MIT
// The Prometheus endpoint of the real mcrd, scraped by a real Prometheus (Debian's, started by the
// test in the relay's namespace, scrape_interval 1s): PromQL sums equal the packets sent exactly,
// the per-rule and per-output series equal `mcrctl stats`, `promtool check metrics` accepts the
// exposition, a kill -9 of the data plane moves no counter backwards; and an mcrd without
// telemetry has no @opentelemetry module loaded at all.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mcrctlAdd, mcrctlStats, mcrctlStatsAfterRx, pollUntil, workers } from '../helpers/control';
import { quietOneHop, TempDir } from '../helpers/datapath';
import { samples } from '../helpers/exposition';
import { skipReason, sleep, startDaemon, startMcrd, streamExactly, type DaemonHandle, type Topology } from '../helpers/netns';
import { MCRD } from '../../lab/paths';
import type { Proc } from '../../lab/proc';

const skip =
  skipReason() ??
  (existsSync('/usr/bin/prometheus') && existsSync('/usr/bin/promtool')
    ? undefined
    : 'Debian prometheus (with promtool) is not installed: apt-get install prometheus');
if (skip) console.log(`# prometheus.test: skipped: ${skip}`);

const VIDEO = { group: '239.1.1.1', port: 5001, out: '239.2.2.2', outPort: 5002 };
/** Inside the relay's namespace, whose loopback is its own: any port is free. */
const PROMETHEUS_PORT = 9090;

/** The address mcrd logged for its Prometheus endpoint (port 0 resolved). */
async function metricsAddress(mcrd: DaemonHandle): Promise<string> {
  return pollUntil(
    async () => /Prometheus metrics on http:\/\/([0-9.]+:\d+)\/metrics/.exec(mcrd.stderr)?.[1] ?? '',
    (a) => a !== '',
    "mcrd's 'Prometheus metrics on' log line",
    10_000,
  );
}

interface PromVector {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('Prometheus scraping mcrd', { skip }, () => {
  let t: Topology;
  let dir: TempDir;
  let mcrd: DaemonHandle;
  let prometheus: Proc | undefined;
  let address: string;

  /** curl inside the relay's namespace (mcrd and Prometheus listen on its loopback). */
  async function curl(args: string[]): Promise<string> {
    return (await t.exec('relay', 'curl', ['-sS', '--fail', ...args])).stdout;
  }

  const exposition = (): Promise<string> => curl([`http://${address}/metrics`]);

  async function query(promql: string): Promise<PromVector['data']['result']> {
    const body = await curl(['--get', '--data-urlencode', `query=${promql}`, `http://127.0.0.1:${PROMETHEUS_PORT}/api/v1/query`]);
    const r = JSON.parse(body) as PromVector;
    assert.equal(r.status, 'success', body);
    return r.data.result;
  }

  /** One number from a PromQL expression whose result is a single sample (NaN when empty). */
  async function scalar(promql: string): Promise<number> {
    const result = await query(promql);
    return result.length === 1 ? Number(result[0]?.value[1]) : Number.NaN;
  }

  /** Waits until Prometheus has scraped a value of `promql` equal to `want`; returns what it last saw. */
  async function scrapedValue(promql: string, want: number): Promise<number> {
    return pollUntil(
      () => scalar(promql),
      (v) => v === want,
      `Prometheus: ${promql} == ${want}`,
      20_000,
      250,
    ).catch(async () => scalar(promql));
  }

  before(async () => {
    dir = new TempDir();
    t = await quietOneHop('prom');
    mcrd = await startDaemon(t, 'relay', { args: ['--metrics-listen', '127.0.0.1:0'] });
    address = await metricsAddress(mcrd);
    await mcrctlAdd(mcrd, VIDEO.group, VIDEO.port, `${VIDEO.out}:${VIDEO.outPort}:r1`, 'video');
    // A second rule with two outputs and no name: its label is its id.
    await mcrctlAdd(mcrd, '239.1.1.9', 5009, '239.2.2.8:5008:r1,239.2.2.9:5010:r1');
    const config = path.join(dir.path, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: mcr',
        '    static_configs:',
        `      - targets: ['${address}']`,
        '',
      ].join('\n'),
    );
    prometheus = t.spawn('relay', 'prometheus', 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir.path, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`,
      '--log.level=warn',
    ]);
    await pollUntil(
      async () =>
        (
          await t.exec('relay', 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${PROMETHEUS_PORT}/-/ready`], {
            allowFail: true,
          })
        ).stdout,
      (code) => code === '200',
      `Prometheus ready (${prometheus.stderr.slice(-500)})`,
      30_000,
      200,
    );
    // The target is up: Prometheus has scraped mcrd at least once.
    await pollUntil(
      () => scalar('up{job="mcr"}'),
      (v) => v === 1,
      'the mcr target up',
      20_000,
      250,
    );
  });

  after(async () => {
    try {
      await prometheus?.stop('SIGTERM', 5_000);
    } finally {
      await mcrd?.stop();
      await t?.destroy();
      dir?.remove();
    }
  });

  it('PromQL sum(mcr_rx_packets_total) equals the packets sent, exactly; rules and outputs equal mcrctl stats', async () => {
    const N = 7_000;
    await streamExactly(t, { ...VIDEO, count: N, rate: 10_000 });
    const s = await mcrctlStatsAfterRx(mcrd, N);
    assert.equal(s.totals.rxFrames, N);
    assert.equal(s.totals.txPackets, N);

    assert.equal(await scrapedValue('sum(mcr_rx_packets_total)', N), N);
    assert.equal(await scalar('sum(mcr_tx_packets_total)'), N);
    assert.equal(await scalar('sum(mcr_matched_packets_total)'), N);
    assert.equal(await scalar('sum(mcr_ring_drops_total)'), 0);
    assert.equal(await scalar('sum(mcr_filtered_packets_total)'), 0);
    assert.equal(await scalar('sum(mcr_rx_bytes_total)'), s.totals.rxBytes);
    assert.equal(await scalar('sum(mcr_tx_bytes_total)'), s.totals.txBytes);
    assert.equal(await scalar('mcr_build_info'), 1);
    assert.equal(await scalar('mcr_dataplane_restarts_total'), 0);

    // Per rule and per output: every series Prometheus holds equals mcrctl stats, and every rule
    // and output of mcrctl stats has its series.
    const latest = await mcrctlStats(mcrd);
    const ruleSeries = await query('mcr_rule_matched_packets_total');
    const outputSeries = await query('mcr_output_tx_packets_total');
    const wantRules = Object.fromEntries(latest.rules.map((r) => [r.name ?? r.id, r.matchedPackets]));
    const wantOutputs = Object.fromEntries(
      latest.rules.flatMap((r) => r.outputs.map((o) => [`${r.name ?? r.id} ${o.group}:${o.port}@${o.interface}`, o.txPackets])),
    );
    assert.deepEqual(Object.fromEntries(ruleSeries.map((x) => [x.metric.rule, Number(x.value[1])])), wantRules);
    assert.deepEqual(Object.fromEntries(outputSeries.map((x) => [`${x.metric.rule} ${x.metric.output}`, Number(x.value[1])])), wantOutputs);
    assert.equal(wantRules.video, N);
    assert.equal(wantOutputs['video 239.2.2.2:5002@r1'], N);
    assert.equal(Object.keys(wantOutputs).length, 3);
    // The unnamed rule is labelled with its id, with both outputs at 0.
    const unnamed = latest.rules.find((r) => r.name === undefined);
    assert.ok(unnamed);
    assert.equal(wantRules[unnamed.id], 0);
    // The histograms: every batch sampled (spanSampleEvery 16 by default) is in _count.
    const sampled = latest.totals.spans.batch?.samples ?? -1;
    assert.ok(sampled > 0, `sampled batches ${sampled}`);
    assert.equal(await scalar('sum(mcr_batch_seconds_count)'), sampled);
    assert.equal(await scalar('sum(mcr_batch_seconds_bucket{le="+Inf"})'), sampled);
    // _sum is the core's exact sum (one worker: the same number mcrctl stats shows, in seconds).
    const sumUs = latest.totals.spans.batch?.sumUs ?? -1;
    assert.ok(sumUs > 0, `batch sum ${sumUs} µs`);
    assert.equal(await scalar('sum(mcr_batch_seconds_sum)'), sumUs / 1e6);
  });

  it('serves text format 0.0.4 that promtool check metrics accepts; 404 elsewhere', async () => {
    const contentType = await curl(['-o', '/dev/null', '-w', '%{content_type}', `http://${address}/metrics`]);
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const body = await exposition();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    const notFound = await t.exec('relay', 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${address}/`], {
      allowFail: true,
    });
    assert.equal(notFound.stdout, '404');
  });

  it('an mcrd whose --metrics-listen address is taken does not start (exit 1, the address named)', async () => {
    const second = t.spawn('relay', 'mcrd (port taken)', 'node', [
      MCRD,
      '--control-socket',
      `/tmp/${t.prefix}-relay-2.sock`,
      '--counters-file',
      `/dev/shm/${t.prefix}-2.counters`,
      '--metrics-listen',
      `127.0.0.1:${PROMETHEUS_PORT}`,
    ]);
    assert.equal(await second.exited, 1);
    assert.match(second.stderr, /^mcrd: cannot serve Prometheus metrics on 127\.0\.0\.1:9090: listen EADDRINUSE/m);
  });

  it('a kill -9 of the data plane moves no counter backwards (exposition and PromQL resets)', async () => {
    const beforeKill = samples(await exposition());
    const rxBefore = [...beforeKill].filter(([k]) => k.startsWith('mcr_rx_packets_total')).reduce((a, [, v]) => a + v, 0);
    assert.equal(beforeKill.get('mcr_dataplane_restarts_total'), 0);
    const pid = await mcrd.dataplanePid();
    process.kill(pid, 'SIGKILL');
    await pollUntil(
      () => workers(mcrd),
      (w) => w.dataplane.state === 'running' && w.dataplane.pid !== null && w.dataplane.pid !== pid,
      'a restarted data plane',
      10_000,
      20,
    );
    const afterKill = samples(await exposition());
    assert.equal(afterKill.get('mcr_dataplane_restarts_total'), 1);
    // Every counter, bucket and count is still there and none went down.
    for (const [series, value] of beforeKill) {
      if (series.startsWith('mcr_build_info') || series.startsWith('target_info')) continue;
      const now = afterKill.get(series);
      assert.ok(now !== undefined, `${series} vanished after the restart`);
      assert.ok(now >= value, `${series} went backwards: ${value} -> ${now}`);
    }
    const M = 3_000;
    await streamExactly(t, { ...VIDEO, count: M, rate: 10_000 });
    assert.equal(await scrapedValue('sum(mcr_rx_packets_total)', rxBefore + M), rxBefore + M);
    assert.equal(await scrapedValue('mcr_dataplane_restarts_total', 1), 1);
    assert.equal(await scalar('sum(mcr_rule_matched_packets_total{rule="video"})'), rxBefore + M);
    // What Prometheus saw over the whole test: no counter reset in any mcr series.
    await sleep(1_500);
    for (const name of [
      'mcr_rx_packets_total',
      'mcr_tx_packets_total',
      'mcr_batches_total',
      'mcr_rule_matched_packets_total',
      'mcr_output_tx_packets_total',
    ])
      assert.equal(await scalar(`sum(resets(${name}[10m]))`), 0, `${name} never reset`);
  });
});

/**
 * mcrd's loaded CommonJS modules, recorded by a --require preload at exit (mcrd's and its data
 * plane's, one file per pid). import() of the SDK goes through the same module cache (checked by
 * the positive case below), so an OpenTelemetry module loaded by any path shows up here.
 */
const PRELOAD = `
const fs = require('node:fs');
process.on('exit', () => {
  fs.writeFileSync(process.env.MCR_TEST_MODULES_DIR + '/' + process.pid + '.json', JSON.stringify(Object.keys(require.cache)));
});
`;

describe('mcrd without telemetry loads no OpenTelemetry module', { skip }, () => {
  let t: Topology;
  let dir: TempDir;

  before(async () => {
    dir = new TempDir();
    t = await quietOneHop('otel0');
    writeFileSync(path.join(dir.path, 'preload.js'), PRELOAD);
  });
  after(async () => {
    await t?.destroy();
    dir?.remove();
  });

  it('has none in its module cache, and has them with --metrics-listen (the check can see them)', async () => {
    const run = async (label: string, args: string[]): Promise<string[]> => {
      const modules = path.join(dir.path, label);
      spawnSync('mkdir', ['-p', modules]);
      // `env` and node are exec'ed in turn (ip netns exec, env), so the child's pid is mcrd's.
      const mcrd = await startMcrd(t, 'relay', {
        socket: `/tmp/${t.prefix}-relay.sock`,
        command: ['env', `MCR_TEST_MODULES_DIR=${modules}`, 'node', '--require', path.join(dir.path, 'preload.js'), MCRD],
        args,
      });
      const pid = mcrd.child.pid as number;
      assert.equal(await mcrd.stop(), 0);
      const file = path.join(modules, `${pid}.json`);
      assert.ok(existsSync(file), `mcrd (pid ${pid}) recorded its modules`);
      const loaded = JSON.parse(readFileSync(file, 'utf8')) as string[];
      assert.ok(
        loaded.some((m) => m.endsWith(path.join('dist', 'src', 'daemon', 'daemon.js'))),
        'the record is of mcrd',
      );
      return loaded.filter((m) => m.includes(`${path.sep}@opentelemetry${path.sep}`));
    };
    assert.deepEqual(await run('off', []), []);
    const on = await run('on', ['--metrics-listen', '127.0.0.1:0']);
    assert.ok(on.length > 0, 'with --metrics-listen the SDK is in the module cache');
  });
});

describe('a config reload that changes the telemetry section', { skip }, () => {
  let t: Topology;
  let dir: TempDir;
  let mcrd: DaemonHandle | undefined;

  before(async () => {
    dir = new TempDir();
    t = await quietOneHop('promr');
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
    dir?.remove();
  });

  it('moves the endpoint to the new address with the counters intact; an unchanged section restarts nothing', async () => {
    const rule = {
      name: 'video',
      input: { interface: 'r0', group: VIDEO.group, port: VIDEO.port },
      outputs: [{ group: VIDEO.out, port: VIDEO.outPort, interface: 'r1' }],
    };
    const file = dir.config('mcr.json5', { telemetry: { metricsListen: '127.0.0.1:0' }, rules: [rule] });
    mcrd = await startDaemon(t, 'relay', { configFile: file });
    const d = mcrd;
    const first = await metricsAddress(d);
    const rx = async (address: string): Promise<number> => {
      const body = (await t.exec('relay', 'curl', ['-sS', '--fail', `http://${address}/metrics`])).stdout;
      return [...samples(body)].filter(([k]) => k.startsWith('mcr_rx_packets_total')).reduce((a, [, v]) => a + v, 0);
    };
    /** curl's exit code: 7 is "connection refused" (nothing listens there any more). */
    const curlCode = async (address: string): Promise<number> =>
      (await t.exec('relay', 'curl', ['-sS', '-o', '/dev/null', `http://${address}/metrics`], { allowFail: true })).code;
    const N = 2_000;
    await streamExactly(t, { ...VIDEO, count: N, rate: 10_000 });
    assert.equal(
      await pollUntil(
        () => rx(first),
        (v) => v === N,
        `${N} on ${first}`,
      ),
      N,
    );

    const changes = (): number => d.stderr.split('\n').filter((l) => l.includes('telemetry settings changed: restarting telemetry')).length;
    dir.config('mcr.json5', { telemetry: { metricsListen: '127.0.0.1:19464' }, rules: [rule] });
    await d.ctl(['config', 'reload']);
    assert.equal(changes(), 1);
    assert.match(d.stderr, /Prometheus metrics on http:\/\/127\.0\.0\.1:19464\/metrics/);
    assert.equal(await rx('127.0.0.1:19464'), N);
    assert.equal(await curlCode(first), 7);

    await d.ctl(['config', 'reload']);
    assert.equal(changes(), 1, 'the same section again: nothing restarted');
    assert.equal(await rx('127.0.0.1:19464'), N);

    dir.config('mcr.json5', { rules: [rule] });
    await d.ctl(['config', 'reload']);
    assert.equal(changes(), 2);
    assert.match(d.stderr, /telemetry off: nothing to export/);
    assert.equal(await curlCode('127.0.0.1:19464'), 7);
    // Forwarding never stopped.
    await streamExactly(t, { ...VIDEO, count: N, rate: 10_000 });
  });
});
