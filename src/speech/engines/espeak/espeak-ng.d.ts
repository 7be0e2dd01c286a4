// The npm package espeak-ng (1.0.2) ships no types: an Emscripten module factory that runs the
// espeak-ng command line once per instance. Only what we use is declared.
declare module 'espeak-ng' {
  export interface ESpeakNgOptions {
    /** Command-line arguments, e.g. ['-v', 'en-us', '-w', '/out.wav', '-f', '/in.txt']. */
    arguments: string[];
    print?: (line: string) => void;
    printErr?: (line: string) => void;
    /** Runs before main(), when the in-memory file system exists (e.g. to write the input file). */
    preRun?: ((module: ESpeakNgInstance) => void)[];
    /**
     * Lets the caller instantiate the WebAssembly module, e.g. from a module compiled once. The
     * WebAssembly objects are opaque here: the project's TypeScript libs do not declare them.
     */
    instantiateWasm?: (imports: object, receiveInstance: (instance: object, module?: object) => void) => object;
  }

  export interface ESpeakNgInstance {
    FS: {
      readFile(path: string): Uint8Array;
      writeFile(path: string, data: string | Uint8Array): void;
    };
  }

  export default function ESpeakNg(options: ESpeakNgOptions): Promise<ESpeakNgInstance>;
}
