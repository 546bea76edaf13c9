/** What one load test run does. Every count is bounded, and so is the time. */
export interface LoadTestOptions {
  /** Authenticated sockets held open for the whole run. */
  clients: number;
  /** How many of the clients send. */
  senders: number;
  /** Messages each sender sends, one after the other. */
  messages: number;
  /** Broadcasts still reaching clients at once, at most: the pace. */
  inFlight: number;
  /** Sign-ins and handshakes in flight at once. */
  connectConcurrency: number;
  /** Each phase (connect, messages, settle) fails after this long. */
  phaseTimeoutMs: number;
  /** Run the sandbox in this process instead of a child process (the test does; the CLI does not by default). */
  inProcess: boolean;
  /** Write the summary here as JSON. */
  jsonFile?: string;
}

export const DEFAULTS: LoadTestOptions = {
  clients: 1000,
  senders: 10,
  messages: 5,
  inFlight: 2,
  connectConcurrency: 50,
  phaseTimeoutMs: 420_000,
  inProcess: false,
};

/** Hard ceilings: the run stays on one machine's loopback and in its file-descriptor budget. */
export const LIMITS = { clients: 5000, senders: 1000, messages: 1000, inFlight: 100 } as const;

export const USAGE = `Usage: npm run loadtest -- [options]

  --clients N      authenticated sockets held open (default ${DEFAULTS.clients}, at most ${LIMITS.clients})
  --senders N      how many of them send (default ${DEFAULTS.senders})
  --messages N     messages per sender, each sent once the previous one came back (default ${DEFAULTS.messages})
  --in-flight N    broadcasts still reaching clients at once, at most (default ${DEFAULTS.inFlight}): the pace
  --timeout S      seconds each phase may take before the run fails (default ${DEFAULTS.phaseTimeoutMs / 1000})
  --in-process     run the sandbox in this process (default: a child process, so the two share the cores)
  --json FILE      also write the summary as JSON to FILE
  --help           this text

Exits 0 when every client received every message exactly once, each sender's messages in the order sent;
1 otherwise; 2 on bad options.`;

export class OptionsError extends Error {
  override readonly name = "OptionsError";
}

/** Parses the command line; throws `OptionsError` naming the flag that is wrong. */
export function parseOptions(argv: readonly string[]): { help: true } | { help: false; options: LoadTestOptions } {
  const options: LoadTestOptions = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const [name, inline] = flag.includes("=") ? (flag.split(/=(.*)/s, 2) as [string, string]) : [flag, undefined];
    const value = () => {
      const next = inline ?? argv[++i];
      if (next === undefined || next === "") throw new OptionsError(`${name} needs a value`);
      return next;
    };
    switch (name) {
      case "--help":
      case "-h":
        return { help: true };
      case "--clients":
        options.clients = count(name, value(), 1, LIMITS.clients);
        break;
      case "--senders":
        options.senders = count(name, value(), 1, LIMITS.senders);
        break;
      case "--messages":
        options.messages = count(name, value(), 1, LIMITS.messages);
        break;
      case "--in-flight":
        options.inFlight = count(name, value(), 1, LIMITS.inFlight);
        break;
      case "--timeout":
        options.phaseTimeoutMs = count(name, value(), 1, 3600) * 1000;
        break;
      case "--in-process":
        options.inProcess = true;
        break;
      case "--json":
        options.jsonFile = value();
        break;
      default:
        throw new OptionsError(`unknown option ${name}`);
    }
  }
  if (options.senders > options.clients) {
    throw new OptionsError(`--senders (${options.senders}) cannot be more than --clients (${options.clients})`);
  }
  return { help: false, options };
}

function count(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OptionsError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}
