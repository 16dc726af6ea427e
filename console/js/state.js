// What every page reads: the institution, the signed-in user, the locale.
export const ctx = {
  inst: null,          // GET /v1/institution
  me: null,            // {name, display_name, role, queues} from /v1/me or the sign-in
  people: new Map(),   // login → display name, from /v1/people
  csrf: null,          // the session's CSRF token, sent on every write
  locale: 'en',
  timezone: 'UTC',
  currency: 'CNY',
};

// Pages a role may open (CONSOLE.md "Everywhere"; DESIGN.md "Who sees what").
const PAGES = {
  agent: ['work', 'cases'],
  supervisor: ['work', 'cases', 'overview', 'strategy', 'outbox'],
  read: ['cases', 'overview', 'strategy'],
  admin: ['work', 'cases', 'overview', 'strategy', 'outbox'],
};

// The name people read for a login ("张敏" for zhang.min), else the login:
// the journal and the tasks keep logins, the screens show names.
export function personName(login) {
  if (!login) return login;
  if (ctx.me && login === ctx.me.name && ctx.me.display_name) return ctx.me.display_name;
  return ctx.people.get(login) || login;
}

export function pagesFor(role) {
  return PAGES[role] || [];
}

export function can(what) {
  const role = ctx.me && ctx.me.role;
  if (what === 'write') return role === 'agent' || role === 'supervisor' || role === 'admin';
  if (what === 'supervise') return role === 'supervisor' || role === 'admin';
  return pagesFor(role).includes(what);
}
