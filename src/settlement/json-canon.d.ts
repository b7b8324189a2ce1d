/** json-canon 1.0.1 ships no type declarations; its one export serializes a value as RFC 8785 JSON. */
declare module 'json-canon' {
  function serialize(value: unknown): string;
  export default serialize;
}
