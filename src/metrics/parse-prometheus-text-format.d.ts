// The package ships no types; this is the prom2json-shaped result it documents (values as strings).
declare module 'parse-prometheus-text-format' {
  interface RawSample {
    labels?: Record<string, string>
    value?: string
    buckets?: Record<string, string>
    quantiles?: Record<string, string>
    count?: string
    sum?: string
  }
  interface RawFamily {
    name: string
    help: string
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
    metrics: RawSample[]
  }
  function parsePrometheusTextFormat(text: string): RawFamily[]
  export = parsePrometheusTextFormat
}
