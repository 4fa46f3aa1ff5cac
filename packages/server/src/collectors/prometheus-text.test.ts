import { describe, expect, it } from 'vitest';
import { detectFormat, ExpositionError, parseExposition, parseValue } from './prometheus-text.js';

describe('Prometheus text 0.0.4', () => {
  it('reads counters, gauges, HELP escapes, label escapes, timestamps and untyped series', () => {
    const text = [
      '# HELP http_requests_total The total number of HTTP requests.\\nSecond line with \\\\ backslash',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '',
      '# A plain comment is ignored',
      '# TYPE temperature gauge',
      'temperature{room="a \\"quoted\\" name",path="C:\\\\dir\\\\file",note="line1\\nline2"} -3.5e2',
      'temperature{room="trailing comma",} 1',
      'metric_without_timestamp_and_labels 12.47',
      'odd_spacing   {  a = "1" , b="2" }   7   -42',
      '\t indented_line 1',
    ].join('\n');
    const families = parseExposition(text);
    expect(families.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['http_requests_total', 'counter', 2],
      ['temperature', 'gauge', 2],
      ['metric_without_timestamp_and_labels', 'untyped', 1],
      ['odd_spacing', 'untyped', 1],
      ['indented_line', 'untyped', 1],
    ]);
    const [requests, temperature, , odd] = families;
    expect(requests?.help).toBe('The total number of HTTP requests.\nSecond line with \\ backslash');
    expect(requests?.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'post', code: '200' },
      value: 1027,
      timestampMs: 1395066363000,
    });
    expect(temperature?.samples[0]?.labels).toEqual({
      room: 'a "quoted" name',
      path: 'C:\\dir\\file',
      note: 'line1\nline2',
    });
    expect(temperature?.samples[0]?.value).toBe(-350);
    expect(temperature?.samples[1]?.labels).toEqual({ room: 'trailing comma' });
    expect(odd?.samples[0]).toEqual({
      name: 'odd_spacing',
      labels: { a: '1', b: '2' },
      value: 7,
      timestampMs: -42,
    });
  });

  it('reads NaN and ±Inf in any case, and exponent forms', () => {
    expect(parseValue('NaN')).toBeNaN();
    expect(parseValue('nan')).toBeNaN();
    expect(parseValue('+Inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseValue('-Inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseValue('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseValue('1.5E-3')).toBe(0.0015);
    expect(parseValue('.5')).toBe(0.5);
    expect(parseValue('0x10')).toBeNull();
    expect(parseValue('1,5')).toBeNull();
    const [f] = parseExposition('weird{a="b"} NaN\nweird{a="c"} -Inf\nweird{a="d"} +Inf 5\n');
    expect(f?.samples.map((s) => s.value)).toEqual([
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
    expect(f?.samples[2]?.timestampMs).toBe(5);
  });

  it('groups histogram buckets, sums and counts under one family, per label set', () => {
    const text = `# HELP latency Request latency.
# TYPE latency histogram
latency_bucket{path="/a",le="0.05"} 24054
latency_bucket{path="/a",le="0.1"} 33444
latency_bucket{path="/a",le="+Inf"} 144320
latency_sum{path="/a"} 53423
latency_count{path="/a"} 144320
latency_bucket{path="/b",le="0.05"} 1
latency_bucket{path="/b",le="+Inf"} 2
latency_sum{path="/b"} 0.2
latency_count{path="/b"} 2
# TYPE rpc summary
rpc{quantile="0.01"} 3102
rpc{quantile="0.99"} NaN
rpc_sum 1.7560473e+07
rpc_count 2693
`;
    const [hist, summary] = parseExposition(text);
    expect(hist?.type).toBe('histogram');
    expect(hist?.samples).toHaveLength(9);
    expect(hist?.samples.filter((s) => s.labels.path === '/b').map((s) => s.name)).toEqual([
      'latency_bucket',
      'latency_bucket',
      'latency_sum',
      'latency_count',
    ]);
    expect(hist?.samples[2]?.labels.le).toBe('+Inf');
    expect(summary?.type).toBe('summary');
    expect(summary?.samples.map((s) => [s.name, s.labels.quantile ?? null])).toEqual([
      ['rpc', '0.01'],
      ['rpc', '0.99'],
      ['rpc_sum', null],
      ['rpc_count', null],
    ]);
    expect(summary?.samples[2]?.value).toBe(17560473);
  });

  it('fails the whole exposition on a bad line, naming the line', () => {
    const cases: [string, RegExp][] = [
      ['ok 1\nbad-name 1', /line 2: invalid metric name/],
      ['m{a="1" 2', /line 1: expected ',' or '}'/],
      ['m{a="unterminated} 2', /line 1: unterminated/],
      ['m{a="1",a="2"} 3', /duplicate label 'a'/],
      ['m{1a="x"} 3', /invalid label name/],
      ['m abc', /invalid value 'abc'/],
      ['m 1 1.5', /invalid timestamp '1.5'/],
      ['m 1 2 3', /unexpected text/],
      ['m', /missing value/],
      ['# TYPE m bogus\nm 1', /unknown metric type/],
      ['m 1\n# TYPE m gauge', /after its samples/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseExposition(text), text).toThrow(ExpositionError);
      expect(() => parseExposition(text), text).toThrow(message);
    }
  });
});

describe('OpenMetrics', () => {
  const text = `# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
# TYPE go_goroutines gauge
go_goroutines 69 1605281325.125
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
process_cpu_seconds_total 4.20072246e+06
process_cpu_seconds_created 1.6e+09
# TYPE foo histogram
foo_bucket{le="0.1"} 8 # {trace_id="KOO5S4vxi0o"} 0.067 1605281325.0
foo_bucket{le="+Inf"} 17 # {trace_id="oHg5SJYRHA0"} 9.8
foo_count 17
foo_sum 324789.3
# TYPE build info
build_info{version="1.2.3"} 1
# TYPE door stateset
door{door="open"} 1
# EOF
`;

  it('reads _total/_created, units, exemplars and timestamps in seconds, and ends at # EOF', () => {
    expect(detectFormat('application/openmetrics-text; version=1.0.0; charset=utf-8', text)).toBe(
      'openmetrics',
    );
    expect(detectFormat(undefined, text)).toBe('openmetrics');
    expect(detectFormat('text/plain; version=0.0.4', 'a 1\n')).toBe('prometheus');
    const families = parseExposition(text, 'openmetrics');
    expect(families.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['acme_http_router_request_seconds', 'summary', 3],
      ['go_goroutines', 'gauge', 1],
      ['process_cpu_seconds', 'counter', 2],
      ['foo', 'histogram', 4],
      ['build', 'info', 1],
      ['door', 'stateset', 1],
    ]);
    const [summary, goroutines, cpu, foo] = families;
    expect(summary?.unit).toBe('seconds');
    expect(summary?.help).toBe("Latency though all of ACME's HTTP request router.");
    expect(goroutines?.samples[0]?.timestampMs).toBe(1605281325125);
    expect(cpu?.samples.map((s) => s.name)).toEqual([
      'process_cpu_seconds_total',
      'process_cpu_seconds_created',
    ]);
    expect(foo?.samples[0]).toEqual({
      name: 'foo_bucket',
      labels: { le: '0.1' },
      value: 8,
      exemplar: { labels: { trace_id: 'KOO5S4vxi0o' }, value: 0.067, timestampMs: 1605281325000 },
    });
    expect(foo?.samples[1]?.exemplar).toEqual({ labels: { trace_id: 'oHg5SJYRHA0' }, value: 9.8 });
  });

  it('requires # EOF, refuses text after it and empty lines', () => {
    expect(() => parseExposition('a 1\n', 'openmetrics')).toThrow(/missing # EOF/);
    expect(() => parseExposition('a 1\n# EOF\nb 2\n', 'openmetrics')).toThrow(/text after # EOF/);
    expect(() => parseExposition('a 1\n\nb 2\n# EOF\n', 'openmetrics')).toThrow(/line 2: empty line/);
    // An exemplar is not valid in 0.0.4.
    expect(() => parseExposition('a 1 # {x="y"} 1\n')).toThrow(/unexpected text/);
  });

  it('reads quoted UTF-8 metric names', () => {
    const [f] = parseExposition('{"my.dotted.metric", zone="a"} 4\n');
    expect(f?.samples[0]).toEqual({ name: 'my.dotted.metric', labels: { zone: 'a' }, value: 4 });
  });
});
