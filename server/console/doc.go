// Package console is the auditor's console of `keytrail serve`: server-
// rendered pages (html/template, assets embedded, no JavaScript) for people
// who look before they read.
//
//   - Overview (/): for a period, the verified share of human and privileged
//     actions, a daily verified-vs-not chart (inline SVG drawn here),
//     exceptions by verdict, person and DAG, unattributed runs per DAG,
//     source coverage and gaps, and the key inventory's counts. The numbers
//     are report.Summarize's — those the evidence pack of the same period
//     prints — computed by the store from an aggregate query.
//   - Exceptions (/exceptions): most severe first (privileged human actions,
//     other human actions, runs attributed to a person), filtered by verdict,
//     severity, action class, person, instance and DAG, in keyset pages;
//     runs nobody is known to have enabled grouped per DAG; the filtered rows
//     as CSV (/exceptions.csv, the columns and order of the pack's
//     exceptions.csv).
//   - Action (/actions/{id}): the evidence chain behind one verdict — audit
//     record or DAG run, identity resolution, assertion, key registration,
//     policy and reason — with each raw record, its stored SHA-256 and the
//     SHA-256 recomputed from its bytes, and the link to /v1/actions/{id}.
//   - Evidence packs (/packs): the packs, their progress (the page refreshes
//     itself with a meta refresh while one runs), their files for download,
//     starting one (admin only) and verifying one against the store with the
//     server's key.
//
// People sign in through their OpenID Connect provider with the
// authorization-code flow and PKCE (coreos/go-oidc, golang.org/x/oauth2).
// The session is a cookie sealed with AES-256-GCM under a key derived from
// the configured cookie key (HttpOnly, SameSite=Lax, Secure when the
// redirect URL is https); it holds the person's subject, name, role and a
// CSRF token that every POST form carries. POSTs are also refused when the
// browser says they are cross-origin (net/http.CrossOriginProtection).
// Pages answer with a Content-Security-Policy that allows no script.
//
// The package declares what it reads (Reader, Packs); package server
// implements them over the warehouse and its report jobs, maps errors to
// statuses in its one error handler and asks the console to render them as
// pages (RenderError).
package console
