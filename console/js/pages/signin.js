// Sign-in: name and password; a wrong pair and the slow-down after many
// tries are said next to the form, and what was typed stays.
import { h, fill } from '../h.js';
import { post } from '../api.js';
import { t } from '../i18n.js';
import { field, clearErrors, showError } from '../ui.js';
import { signedIn, afterSignIn, loadPeople } from '../app.js';

// The name typed, kept while the page is drawn again in the other
// language: a newcomer who typed it and then found the switch typed it
// again. Never the password.
let typedName = '';

export function render(main, arg, query) {
  const name = h('input', { name: 'name', autocomplete: 'username', required: true, autofocus: true, autocapitalize: 'none', spellcheck: 'false',
    value: typedName, oninput: () => { typedName = name.value; } });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, t('signin.submit'));
  const note = query.get('expired') ? h('p', { class: 'notice' }, t('signin.expired')) : null;
  const form = h('form', { class: 'signin', novalidate: true, onsubmit: send },
    h('h1', {}, t('signin.title')), note,
    h('p', { class: 'form-error', role: 'alert' }),
    field(t('signin.name'), name, 'name'),
    field(t('signin.password'), password, 'password'),
    submit);
  fill(main, form);
  name.focus();

  async function send(e) {
    e.preventDefault();
    clearErrors(form);
    if (!name.value.trim() || !password.value) {
      showError(form, null, t('signin.missing'));
      return;
    }
    submit.disabled = true;
    fill(submit, t('signin.busy'));
    try {
      const answer = await post('/v1/session', { name: name.value.trim(), password: password.value }, { quiet401: true });
      typedName = '';
      signedIn(answer);
      await loadPeople();
      location.hash = afterSignIn(query.get('next'));
    } catch (err) {
      password.value = '';
      if (err.status === 401) showError(form, { field: null }, t('signin.wrong'));
      else if (err.status === 429) showError(form, { field: null }, t('signin.slow', { n: err.retryAfter || 1 }));
      else showError(form, err);
      password.focus();
    } finally {
      submit.disabled = false;
      fill(submit, t('signin.submit'));
    }
  }
}
