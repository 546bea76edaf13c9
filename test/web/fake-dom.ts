/**
 * Just enough of the DOM for the views' unit tests (the project has no DOM library): elements with attributes,
 * children, text, events, and focus as a browser moves it (disabling the focused control drops focus to the body).
 * `installFakeDom()` puts a fresh `document` in the global scope; call the returned function to remove it.
 */
import { vi } from "vitest";

class FakeText {
  parentNode: FakeElement | null = null;
  constructor(public data: string) {}
  get textContent(): string {
    return this.data;
  }
}

type FakeNode = FakeElement | FakeText;

const dataAttribute = (key: string) => `data-${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

export class FakeElement extends EventTarget {
  readonly attributes = new Map<string, string>();
  readonly childNodes: FakeNode[] = [];
  parentNode: FakeElement | null = null;
  /** `data-*` attributes, as the DOM reflects them. */
  readonly dataset: Record<string, string> = new Proxy({} as Record<string, string>, {
    get: (_, key) => this.getAttribute(dataAttribute(String(key))) ?? undefined,
    set: (_, key, value) => {
      this.setAttribute(dataAttribute(String(key)), String(value));
      return true;
    },
  });
  value = "";
  placeholder = "";
  private disabledValue = false;

  constructor(
    readonly tagName: string,
    private readonly doc: FakeDocument,
  ) {
    super();
  }

  get children(): FakeElement[] {
    return this.childNodes.filter((node): node is FakeElement => node instanceof FakeElement);
  }
  get childElementCount(): number {
    return this.children.length;
  }
  get firstElementChild(): FakeElement | null {
    return this.children[0] ?? null;
  }
  get id(): string {
    return this.getAttribute("id") ?? "";
  }
  set id(value: string) {
    this.setAttribute("id", value);
  }
  get className(): string {
    return this.getAttribute("class") ?? "";
  }
  set className(value: string) {
    this.setAttribute("class", value);
  }
  get classList() {
    const classes = () => new Set(this.className.split(/\s+/).filter(Boolean));
    return {
      contains: (name: string) => classes().has(name),
      toggle: (name: string, force?: boolean) => {
        const set = classes();
        const on = force ?? !set.has(name);
        if (on) set.add(name);
        else set.delete(name);
        this.className = [...set].join(" ");
        return on;
      },
    };
  }
  get hidden(): boolean {
    return this.attributes.has("hidden");
  }
  set hidden(value: boolean) {
    if (value) this.setAttribute("hidden", "");
    else this.removeAttribute("hidden");
  }
  get disabled(): boolean {
    return this.disabledValue;
  }
  set disabled(value: boolean) {
    this.disabledValue = value;
    if (value && this.doc.activeElement === this) this.doc.activeElement = this.doc.body;
  }
  get textContent(): string {
    return this.childNodes.map((node) => node.textContent).join("");
  }
  set textContent(value: string) {
    this.replaceChildren(...(value === "" ? [] : [value]));
  }

  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  hasAttribute(name: string): boolean {
    return this.attributes.has(name);
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }

  appendChild<T extends FakeNode>(node: T): T {
    return this.insertBefore(node, null);
  }
  append(...nodes: (FakeNode | string)[]): void {
    for (const node of nodes) this.appendChild(typeof node === "string" ? new FakeText(node) : node);
  }
  insertBefore<T extends FakeNode>(node: T, before: FakeNode | null): T {
    node.parentNode?.removeChild(node);
    const at = before ? this.childNodes.indexOf(before) : -1;
    if (at < 0) this.childNodes.push(node);
    else this.childNodes.splice(at, 0, node);
    node.parentNode = this;
    return node;
  }
  removeChild<T extends FakeNode>(node: T): T {
    const at = this.childNodes.indexOf(node);
    if (at >= 0) this.childNodes.splice(at, 1);
    node.parentNode = null;
    return node;
  }
  replaceChildren(...nodes: (FakeNode | string)[]): void {
    for (const node of [...this.childNodes]) this.removeChild(node);
    this.append(...nodes);
  }
  remove(): void {
    this.parentNode?.removeChild(this);
  }
  contains(node: FakeNode | null): boolean {
    for (let at: FakeNode | null = node; at; at = at.parentNode) if (at === this) return true;
    return false;
  }
  /** Every element below this one, depth first. */
  descendants(): FakeElement[] {
    return this.children.flatMap((child) => [child, ...child.descendants()]);
  }
  focus(): void {
    if (!this.disabled) this.doc.activeElement = this;
  }
  scrollIntoView(): void {}
}

export class FakeDocument {
  readonly body: FakeElement = new FakeElement("BODY", this);
  activeElement: FakeElement | null = this.body;
  createElement(tag: string): FakeElement {
    return new FakeElement(tag.toUpperCase(), this);
  }
  createTextNode(text: string): FakeText {
    return new FakeText(text);
  }
}

export function installFakeDom(): FakeDocument {
  const doc = new FakeDocument();
  vi.stubGlobal("document", doc);
  return doc;
}

/** A key press as the browser reports it; `keyCode` and `isComposing` as Safari and others set them. */
export function keydown(
  target: EventTarget,
  init: { key: string; shiftKey?: boolean; isComposing?: boolean; keyCode?: number },
) {
  const event = Object.assign(new Event("keydown", { cancelable: true }), {
    shiftKey: false,
    isComposing: false,
    keyCode: init.key === "Enter" ? 13 : 0,
    ...init,
  });
  target.dispatchEvent(event);
  return event;
}
