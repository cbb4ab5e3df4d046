// dns-packet's own tables of type and answer-code names (CommonJS modules without types of their own).
declare module 'dns-packet/types.js' {
  const types: {toString(type: number): string}
  export = types
}
declare module 'dns-packet/rcodes.js' {
  const rcodes: {toString(rcode: number): string}
  export = rcodes
}
