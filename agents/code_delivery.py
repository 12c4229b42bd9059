"""Delivery of an approved code patch: a branch and a commit in the repository, and a pull request.

The approved thing is the delivered thing: the diff is re-made from the
commit the patch was proven on and must equal the approved diff, or nothing
is delivered. The commit is made in a scratch worktree on a new branch
`cloud-doctor/<proposal id>` from that commit, so the operator's working
tree is never touched. With a remote configured (config/code_repositories.yaml)
the branch is pushed, and with a forge and its token (read from the named
environment variable) the pull request (GitHub) or merge request (GitLab) is
opened through the REST API with a body that carries the diagnosis, the
evidence, the diff and the test result. A draft (no tests) is opened as a
draft and never rolled out.

After delivery, `ROLLOUT_HOOK` is where the progressive rollout of the
delivery issue (canary / blue-green with analysis, issue 11) plugs in; until
one is installed, a repository configured for a rollout gets a note saying
that it did not happen.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from agents.code_fixes.proof import file_at
from agents.code_fixes.repositories import ForgeConfig, RepositoryConfig, load_registry
from agents.code_healer import unified_diff
from graphs.state import Diagnosis, Evidence, Proposal

COMMITTER = ("Cloud Doctor", "cloud-doctor@localhost")
API_TIMEOUT_S = 20.0


class PullRequest(BaseModel):
    url: str
    number: int | None = None


class Delivery(BaseModel):
    """What delivering one proposal did."""

    proposal_id: str
    status: Literal["delivered", "refused", "failed"]
    detail: str
    branch: str | None = None
    commit: str | None = None
    pushed: bool = False
    pull_request: PullRequest | None = None
    body: str = ""
    draft: bool = False


# The progressive rollout after delivery (issue 11) installs itself here: called with the delivery and the
# repository's registry entry when the repository names a `rollout` and the patch is not a draft.
ROLLOUT_HOOK: Callable[[Delivery, RepositoryConfig], str] | None = None


class DeliveryError(Exception):
    pass


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise DeliveryError(f"git {args[0]} failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout.strip()


def branch_name(proposal: Proposal) -> str:
    return f"cloud-doctor/{proposal.id.lower()}"


def pull_request_body(proposal: Proposal, diagnosis: Diagnosis | None, evidence: list[Evidence], approvers: list[str]) -> str:
    """The pull request's description: why, on what evidence, what changes, what the tests said, who approved."""
    cited = set(diagnosis.citations) if diagnosis else set()
    shown = [e for e in evidence if e.id in cited] or evidence[:5]
    tests = next((v for v in proposal.validation if v.check == "tests"), None)
    lines = [f"## {proposal.title}", "", "### Diagnosis", ""]
    if diagnosis is not None:
        lines += [f"{diagnosis.summary}", "", f"Root cause: `{diagnosis.root_cause}` (confidence {diagnosis.confidence:.0%})."]
    else:
        lines += ["(no diagnosis recorded)"]
    lines += ["", "### Evidence", ""]
    lines += [f"- **{e.id}** `{e.source}`: {e.summary}" for e in shown] or ["- (none recorded)"]
    lines += ["", "### Change", "", proposal.description, "", "```diff", proposal.diff.rstrip("\n"), "```", "",
              "### Checks", ""]
    lines += [f"- {'passed' if v.passed else 'FAILED'} `{v.check}`: {v.details}" for v in proposal.validation]
    lines += ["", "### Tests", "", f"- {tests.details}" if tests else f"- {proposal.draft or 'tests did not run'}"]
    lines += ["", f"Approved by: {', '.join(approvers) or 'nobody recorded'}. Rollback: {proposal.rollback}.",
              f"Proposal `{proposal.id}`, made on `{(proposal.base_commit or '')[:12]}` by Cloud Doctor."]
    return "\n".join(lines) + "\n"


def _commit_on_branch(root: Path, proposal: Proposal, branch: str, message: str) -> str:
    """A commit with the approved file on a new branch from the base commit, made in a scratch worktree."""
    existing = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                              capture_output=True, text=True)
    if existing.returncode == 0:
        commit = existing.stdout.strip()
        same = all(file_at(root, commit, path) == text for path, text in proposal.files.items())
        if same and _git(root, "rev-parse", f"{commit}^") == proposal.base_commit:
            return commit  # delivered before (a resumed run): the same commit
        raise DeliveryError(f"branch {branch} already exists with other content; not overwritten")
    with tempfile.TemporaryDirectory(prefix="cloud-doctor-delivery-") as tmp:
        scratch = Path(tmp) / "worktree"
        _git(root, "worktree", "add", "--quiet", "-b", branch, str(scratch), proposal.base_commit or "HEAD")
        try:
            for path, text in proposal.files.items():
                (scratch / path).parent.mkdir(parents=True, exist_ok=True)
                (scratch / path).write_text(text, encoding="utf-8")
                _git(scratch, "add", "--", path)
            name, email = COMMITTER
            _git(scratch, "-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "--quiet", "-m", message)
            return _git(scratch, "rev-parse", "HEAD")
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(scratch)], capture_output=True)


def open_pull_request(forge: ForgeConfig, token: str, *, branch: str, base: str, title: str, body: str,
                      draft: bool) -> PullRequest:
    """Open a GitHub pull request or a GitLab merge request through the REST API."""
    if forge.kind == "github":
        url = f"{forge.api_url.rstrip('/')}/repos/{forge.project}/pulls"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28"}
        payload: dict = {"title": title, "head": branch, "base": base, "body": body, "draft": draft}
    else:
        url = f"{forge.api_url.rstrip('/')}/projects/{quote(forge.project, safe='')}/merge_requests"
        headers = {"PRIVATE-TOKEN": token}
        payload = {"source_branch": branch, "target_branch": base, "title": f"Draft: {title}" if draft else title,
                   "description": body}
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=API_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{forge.kind} API unreachable at {forge.api_url}: {type(exc).__name__}") from exc
    if response.status_code not in (200, 201):
        raise DeliveryError(f"{forge.kind} API answered {response.status_code}: {response.text[:200]}")
    data = response.json()
    return PullRequest(url=data.get("html_url") or data.get("web_url") or "", number=data.get("number") or data.get("iid"))


def resolve_repository(proposal: Proposal, config_dir: Path | None = None) -> tuple[Path | None, RepositoryConfig | None]:
    if not proposal.repository:
        return None, None
    registry = load_registry(config_dir)
    entry = registry.named(proposal.repository) or registry.for_path(Path(proposal.repository))
    return (Path(entry.path) if entry else Path(proposal.repository)), entry


def deliver(proposal: Proposal, root: Path, repository: RepositoryConfig | None, *, diagnosis: Diagnosis | None,
            evidence: list[Evidence], approvers: list[str], environ: dict[str, str]) -> Delivery:
    """Branch, commit, push and pull request for an approved code patch; every refusal says why."""
    if proposal.kind != "code_patch" or len(proposal.files) != 1 or not proposal.base_commit:
        return Delivery(proposal_id=proposal.id, status="refused",
                        detail="only a one-file code patch made on a known commit can be delivered")
    [(path, new_text)] = proposal.files.items()
    try:
        before = file_at(root, proposal.base_commit, path)
        if before is None or unified_diff(path, before, new_text) != proposal.diff:
            return Delivery(proposal_id=proposal.id, status="refused",
                            detail=f"the approved diff does not re-make from {proposal.base_commit[:12]}:{path}; not delivered")
        branch = branch_name(proposal)
        body = pull_request_body(proposal, diagnosis, evidence, approvers)
        message = (f"{proposal.title}\n\n{proposal.description}\n\nProposal: {proposal.id}\n"
                   + "".join(f"Approved-by: {name}\n" for name in approvers))
        commit = _commit_on_branch(root, proposal, branch, message)
        delivery = Delivery(proposal_id=proposal.id, status="delivered", branch=branch, commit=commit, body=body,
                            draft=proposal.draft is not None,
                            detail=f"commit {commit[:12]} on branch {branch} in {root}")
        if repository is None or not repository.remote:
            delivery.detail += "; no remote configured: the pull request body is ready for a person to open"
            return delivery
        _git(root, "push", "--quiet", repository.remote, f"refs/heads/{branch}:refs/heads/{branch}")
        delivery.pushed = True
        delivery.detail += f"; pushed to {repository.remote}"
        forge = repository.forge
        token = environ.get(forge.token_env) if forge else None
        if forge is None:
            delivery.detail += "; no forge configured: open the pull request from the pushed branch"
        elif not token:
            delivery.detail += f"; no token in ${forge.token_env}: open the pull request from the pushed branch"
        else:
            delivery.pull_request = open_pull_request(forge, token, branch=branch, base=repository.default_branch,
                                                      title=proposal.title, body=body, draft=delivery.draft)
            delivery.detail += f"; {'draft ' if delivery.draft else ''}pull request {delivery.pull_request.url}"
        return delivery
    except DeliveryError as exc:
        return Delivery(proposal_id=proposal.id, status="failed", detail=str(exc))


def after_delivery(delivery: Delivery, repository: RepositoryConfig | None) -> str | None:
    """Hand a delivered, tested patch to the progressive rollout when the repository asks for one."""
    if delivery.status != "delivered" or repository is None or not repository.rollout:
        return None
    if delivery.draft:
        return "no rollout: the patch is a draft (not for automatic deployment)"
    if ROLLOUT_HOOK is None:
        return (f"{repository.name} asks for a {repository.rollout} rollout after delivery, but no rollout runner is "
                "installed (agents.code_delivery.ROLLOUT_HOOK): not rolled out")
    return ROLLOUT_HOOK(delivery, repository)


async def deliver_approved_code_patch(ctx, state, proposal: Proposal, approvers: list[str], run) -> dict:
    """The deployer's step for an approved code_patch proposal (`run` is the deployer's record of the call)."""
    import asyncio
    import os

    branch = branch_name(proposal)
    root, repository = resolve_repository(proposal, ctx.settings.config_dir)
    if ctx.world.name == "recorded" or root is None:
        why = ("replay: not executed (recorded world)" if ctx.world.name == "recorded"
               else "no repository checkout is known for this patch")
        run.act(f"git commit -b {branch}", "skipped", why, rule="deployer: code delivery")
        run.note(f"{proposal.id} was not delivered ({why}); a live run commits it on branch {branch} and opens a pull request",
                 "limitation")
        return run.result(False)
    delivery = await asyncio.to_thread(deliver, proposal, root, repository, diagnosis=state.get("diagnosis"),
                                       evidence=state.get("evidence") or [], approvers=approvers, environ=dict(os.environ))
    status = {"delivered": "executed", "refused": "refused", "failed": "failed"}[delivery.status]
    run.act(f"git commit -b {branch}", status, delivery.detail, rule="deployer: code delivery")
    if delivery.status != "delivered":
        run.note(f"{proposal.id} not delivered: {delivery.detail}", "warning")
        return run.result(False)
    run.note(f"{proposal.id} delivered: {delivery.detail}" + (f" ({proposal.draft})" if proposal.draft else ""))
    if (rollout := after_delivery(delivery, repository)) is not None:
        run.note(rollout, "limitation" if "not rolled out" in rollout or "no rollout" in rollout else "info")
    return run.result(True)
