// passkeys-section.js - the "Passkeys" section of the account pages (kept apart from the
// other sections so it can move to the Security page as it is): the user's passkeys with
// their last use, "Add a passkey" and "Remove".
import { addPasskey, listPasskeys, removePasskey, supported } from './passkeys.js';

const $ = (id) => document.getElementById(id);

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

const when = (s) => (s ? new Date(s * 1000).toLocaleString() : 'never');

function say(msg) {
  $('passkeys-status').textContent = msg;
}

async function render() {
  let list;
  try {
    list = await listPasskeys();
  } catch (err) {
    say(err.message);
    return;
  }
  const body = $('passkeys');
  body.replaceChildren();
  say(list.length ? '' : 'No passkey yet.');
  for (const p of list) {
    const tr = document.createElement('tr');
    tr.dataset.id = String(p.id);
    tr.append(text('td', p.name), text('td', when(p.created_at)), text('td', when(p.last_used_at)));
    const td = document.createElement('td');
    const b = text('button', 'Remove', 'link');
    b.type = 'button';
    b.setAttribute('aria-label', 'Remove the passkey ' + p.name);
    b.addEventListener('click', async () => {
      b.disabled = true;
      let msg = 'Passkey removed.';
      try {
        await removePasskey(p.id);
      } catch (err) {
        msg = err.code === 'reauthentication_required' ? 'Sign in again to remove a passkey.' : err.message;
      }
      await render();
      say(msg);
    });
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
}

/** Shows the section (when jwtd has passkeys and the browser WebAuthn). */
export async function startPasskeys() {
  if (!supported()) return;
  const probe = await listPasskeys().catch((err) => err);
  if (probe instanceof Error && probe.status === 404) return; // passkeys are off on this server
  $('passkeys-section').hidden = false;
  $('passkey-add').addEventListener('click', async () => {
    const name = $('passkey-name').value.trim() || 'Passkey';
    $('passkey-add').disabled = true;
    let msg = 'Passkey added.';
    try {
      await addPasskey(name);
      $('passkey-name').value = '';
    } catch (err) {
      msg = err.name === 'NotAllowedError' ? 'Adding the passkey was cancelled.' : err.message;
    } finally {
      $('passkey-add').disabled = false;
    }
    await render();
    say(msg);
  });
  await render();
}
