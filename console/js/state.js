// What every page reads: the institution, the signed-in user, the locale.
export const ctx = {
  inst: null,          // GET /v1/institution
  me: null,            // {name, role, queues} from /v1/me or the sign-in
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

export function pagesFor(role) {
  return PAGES[role] || [];
}

export function can(what) {
  const role = ctx.me && ctx.me.role;
  if (what === 'write') return role === 'agent' || role === 'supervisor' || role === 'admin';
  if (what === 'supervise') return role === 'supervisor' || role === 'admin';
  return pagesFor(role).includes(what);
}
