import type { Auth, AuthResult, User } from "../auth/index.js";
import { el } from "./dom.js";

/**
 * The sign-in form, built from what the auth method asks for: a name in development mode, email and password with a
 * sign-in / sign-up toggle in SuperTokens mode. Errors are shown per field (`aria-invalid`, `aria-describedby`) and
 * for the form (`role="alert"`).
 */
export function signInView(auth: Auth, options: { notice?: string; onSignedIn: (user: User) => void }): HTMLElement {
  const { form: spec } = auth;
  let signingUp = false;

  const heading = el("h2", { id: "sign-in-title" }, spec.title);
  const formError = el("p", { class: "form-error", role: "alert", "data-testid": "sign-in-error" });
  const submit = el("button", { type: "submit", class: "primary", "data-testid": "sign-in-submit" }, "Sign in");
  const fields = spec.fields.map((field) => {
    const input = el("input", {
      id: `field-${field.id}`,
      name: field.id,
      type: field.type,
      autocomplete: field.autocomplete,
      required: true,
      maxlength: field.maxLength === undefined ? undefined : String(field.maxLength),
      "aria-describedby": `field-${field.id}-error`,
    });
    const error = el("p", { id: `field-${field.id}-error`, class: "field-error" });
    const wrapper = el("div", { class: "field" }, el("label", { for: input.id }, field.label), input, error);
    return { field, input, error, wrapper };
  });

  const toggle = el("button", { type: "button", class: "link-button", "data-testid": "sign-in-toggle" });
  const toggleLine = el("p", { class: "toggle" }, toggle);
  const form = el(
    "form",
    { class: "card sign-in", "aria-labelledby": heading.id, novalidate: true },
    heading,
    spec.notice && el("p", { class: "notice" }, spec.notice),
    options.notice && el("p", { class: "notice info", role: "status" }, options.notice),
    ...fields.map((f) => f.wrapper),
    formError,
    submit,
    spec.canSignUp && toggleLine,
  );

  const setMode = (signUp: boolean) => {
    signingUp = signUp;
    heading.textContent = signUp ? "Create an account" : spec.title;
    submit.textContent = signUp ? "Sign up" : "Sign in";
    toggle.textContent = signUp ? "Have an account? Sign in" : "New here? Create an account";
    const password = fields.find((f) => f.field.type === "password");
    if (password) password.input.autocomplete = signUp ? "new-password" : "current-password";
    showResult({ ok: false });
  };

  const showResult = (result: Extract<AuthResult, { ok: false }>) => {
    formError.textContent = result.message ?? "";
    for (const { field, input, error } of fields) {
      const message = result.fieldErrors?.[field.id] ?? "";
      error.textContent = message;
      input.setAttribute("aria-invalid", String(message !== ""));
    }
    fields.find((f) => result.fieldErrors?.[f.field.id])?.input.focus();
  };

  toggle.addEventListener("click", () => setMode(!signingUp));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(fields.map(({ field, input }) => [field.id, input.value]));
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const result = signingUp ? await auth.signUp(values) : await auth.signIn(values);
      if (result.ok) options.onSignedIn(result.user);
      else showResult(result);
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  setMode(false);
  queueMicrotask(() => fields[0]?.input.focus());
  return el("section", { class: "sign-in-view" }, form);
}
