/**
 * /settings/profile: what a member chooses about being seen. Their public face (display name,
 * bio and avatar: members/profile.ts, members/avatar.ts) as the profile page /users/{username}
 * and their fediverse actor show it; whether they and their things appear on the popular pages
 * (members.listed; also whether their actor says it is discoverable); and whether their flattrs
 * are published to their fediverse followers (off by default). The apps a member authorized are
 * on /settings/apps.
 *
 * The avatar form is multipart/form-data (a browser sends a file no other way without
 * JavaScript); its parser (web/multipart.ts) serves this plugin's routes only.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { avatarPath, profilePath } from '../../core/iris.ts';
import { AVATAR_MAX_BYTES, removeAvatar, setAvatar } from '../../members/avatar.ts';
import { BIO_MAX, DISPLAY_NAME_MAX, myProfile, ProfileAboutInput, updateProfile } from '../../members/profile.ts';
import { formInput, formValues } from '../forms.ts';
import { html } from '../html.ts';
import { checkbox, csrfField, errorText, type FormError, field, formAlert, formError, noticeFor, page, sendPage } from '../layout.ts';
import { fileField, parseMultipart } from '../multipart.ts';
import { PreferencesForm, setListed } from '../preferences.ts';
import { isListed } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireMemberPage } from '../session.ts';

/** Room for the form's other fields and the multipart framing around a picture of the maximum size. */
const UPLOAD_LIMIT = AVATAR_MAX_BYTES + 64 * 1024;

interface Typed {
  display_name?: string;
  bio?: string;
}

export function profileRoutes(app: FastifyInstance, ctx: Context): void {
  const show = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, error?: FormError, typed: Typed = {}) => {
    const [listed, profile] = await Promise.all([isListed(ctx, caller.id), myProfile(ctx, caller)]);
    const csrf = csrfToken(reply);
    const aboutFields = ['display_name', 'bio'];
    const aboutError = error && aboutFields.includes(error.field ?? '') ? error : undefined;
    const avatarError = error?.field === 'avatar' ? error : undefined;
    const bioError = aboutError?.field === 'bio' ? aboutError : undefined;
    const bio = typed.bio ?? profile.bio ?? '';
    const main = html`<p>Signed in as <strong>${caller.username}</strong>. Your profile page: <a href="${profilePath(caller.username)}">${profilePath(caller.username)}</a>.</p>
<h2>Your profile</h2>
<p class="muted">What your profile page and your fediverse account show.</p>
<form method="post" action="/settings/profile/about">${csrfField(csrf)}
${field({ name: 'display_name', label: 'Display name', value: typed.display_name ?? profile.display_name ?? '', error: aboutError, hint: `at most ${DISPLAY_NAME_MAX} characters; empty shows your username` })}
<div class="field${bioError ? ' invalid' : ''}">
<label for="bio">Bio</label>
<p class="hint" id="bio-hint">at most ${BIO_MAX} characters; line breaks are kept</p>
<textarea id="bio" name="bio" rows="5" cols="50" aria-describedby="bio-hint${bioError ? ' bio-error' : ''}"${bioError ? html` aria-invalid="true"` : ''}>${bio}</textarea>
${bioError ? errorText(bioError, 'bio-error') : ''}
</div>
<button type="submit">Save the profile</button></form>
<h2>Avatar</h2>
<p><img class="avatar" src="${avatarPath(caller.username, profile.avatar_uploaded ? new URL(profile.avatar).searchParams.get('v') : null)}" alt="Your avatar" width="96" height="96"></p>
<form method="post" action="/settings/profile/avatar" enctype="multipart/form-data">${csrfField(csrf)}
<div class="field${avatarError ? ' invalid' : ''}">
<label for="avatar">Picture</label>
<p class="hint" id="avatar-hint">PNG, JPEG, WebP or GIF, at most 2 MiB; it is cropped to a square. Without one, a pattern made from your username shows.</p>
<input id="avatar" name="avatar" type="file" accept="image/png,image/jpeg,image/webp,image/gif" aria-describedby="avatar-hint${avatarError ? ' avatar-error' : ''}"${avatarError ? html` aria-invalid="true"` : ''}>
${avatarError ? errorText(avatarError, 'avatar-error') : ''}
</div>
<button type="submit">Upload the picture</button></form>
${profile.avatar_uploaded ? html`<form method="post" action="/settings/profile/avatar/remove">${csrfField(csrf)}<button type="submit" class="secondary">Remove the picture</button></form>` : ''}
<h2>Being seen</h2>
<form method="post" action="/settings/profile">${csrfField(csrf)}
${formAlert(error && !aboutError && !avatarError ? error : undefined, ['listed', 'publish_flattrs'])}
${checkbox({
  name: 'listed',
  label: 'List me and my things on the popular pages',
  checked: listed,
  error,
  hint: 'Untick to keep your name and your things off /popular; people can still flattr your things. Other fediverse servers are also told not to suggest your profile.',
})}
${checkbox({
  name: 'publish_flattrs',
  label: 'Post my flattrs to my fediverse followers',
  checked: profile.publish_flattrs,
  error,
  hint: 'Each flattr becomes a public post “flattred <title>” with its link, sent to the fediverse accounts that follow you. Off unless you tick it.',
})}
<button type="submit">Save</button></form>
<h2>Signing in</h2>
<p><a href="/settings/sessions">Sessions and tokens</a> that can use your account, and <a href="/settings/password">your password</a>.</p>
<h2>Apps</h2>
<p><a href="/settings/apps">Apps you authorized</a> to use your account.</p>
<p><a href="/settings/links">Fediverse accounts you linked</a>, so that flattrs of their posts come to you.</p>`;
    const notice = error
      ? undefined
      : noticeFor(request.query, { saved: 'Settings saved.', profile: 'Profile saved.', avatar: 'Picture saved.', removed: 'Picture removed.' });
    return sendPage(reply, page({ title: 'Settings', main, caller, csrf, notice, path: '/settings/profile' }), error?.status ?? 200);
  };

  app.get('/settings/profile', async (request, reply) => show(request, reply, await requireMemberPage(ctx, request)));

  app.post('/settings/profile', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/profile');
    try {
      const { listed, publish_flattrs } = formInput(PreferencesForm, request.body);
      await setListed(ctx, caller, listed);
      await updateProfile(ctx, caller, { publish_flattrs });
      return reply.redirect('/settings/profile?done=saved', 303);
    } catch (error) {
      return show(request, reply, caller, formError(error, 'listed'));
    }
  });

  app.post('/settings/profile/about', { config: { multiline: ['bio'] }, preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/profile');
    try {
      await updateProfile(ctx, caller, formInput(ProfileAboutInput, request.body));
      return reply.redirect('/settings/profile?done=profile', 303);
    } catch (error) {
      const { display_name } = formValues(request.body, ['display_name'], 300);
      const { bio } = formValues(request.body, ['bio'], 3000);
      const typed = { ...(display_name !== undefined ? { display_name } : {}), ...(bio !== undefined ? { bio } : {}) };
      return show(request, reply, caller, formError(error, 'display_name'), typed);
    }
  });

  // The upload's parser in a scope of its own (the bank statement upload has another).
  void app.register(async (upload) => {
    upload.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: UPLOAD_LIMIT }, (request, body, done) => {
      try {
        done(null, parseMultipart(body as Buffer, String(request.headers['content-type'])));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
    upload.post('/settings/profile/avatar', { preHandler: csrfCheck(upload), bodyLimit: UPLOAD_LIMIT }, async (request, reply) => {
      const caller = await requireMemberPage(ctx, request, '/settings/profile');
      try {
        await setAvatar(ctx, caller, fileField(request.body, 'avatar', 'choose a picture to upload'));
        return reply.redirect('/settings/profile?done=avatar', 303);
      } catch (error) {
        return show(request, reply, caller, formError(error, 'avatar'));
      }
    });
  });

  app.post('/settings/profile/avatar/remove', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/profile');
    await removeAvatar(ctx, caller);
    return reply.redirect('/settings/profile?done=removed', 303);
  });
}
