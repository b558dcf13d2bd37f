"""The AWS layer: from a design to AWS and back, one stage per module.

apply and destroy run ``deployer``'s pipeline:

    plan -> intent -> lock -> observe -> diff (+ sweep) -> show -> confirm -> execute -> unlock

    artifacts   the pure ``Intent``: what AWS must hold (user-data, software, configurations,
                the hook package), built from the plan
    intent      the ``Intent`` type and the names and tags derived from it
    names       every name, tag and EC2 state set, with AWS's length limits (the one table)
    observe     one read pass per account and region into ``live`` (the snapshot types)
    diff        pure: intent + live -> typed ``changes`` (one class per kind)
    sweep       pure: what vpnctl owns and no longer wants, from the same intent as diff
    actions     one handler per change kind; ``execute`` runs them in stages, ``retry`` retries
    view        the change set as text and JSON, and the saved-change-set check
    progress    what apply says while it works
    applylock   the topology's DynamoDB apply lock (the hook's lease shares its table)

Every AWS call goes through ``door`` (a typed method per operation, owning retries, pages,
"done already" answers, tags and the ``AwsError`` naming account, region and resource; its
``wire`` holds the one ``except`` for botocore); ``fakedoor`` is AWS in memory under it, for
the executors' unit tests. A new AWS operation is a door method and its answer in the fake.

Beside the pipeline: ``session`` and ``factory`` (clients per account and partition, and
the call log), ``policy`` and ``permissions`` (the gateway role's policy and the calls it
must allow, proven by ``iameval``), ``rules`` (security groups), ``store`` (the artifact
bucket), ``hooks`` and ``hookactions`` (what apply deploys for the failover hook), ``dns``
and ``status`` (what is live, for ``vpnctl status``), ``rotation``, ``keyversions`` and
``journal`` (``vpnctl keys rotate``), ``sandbox`` (the emulator).

A new resource kind: its change classes in ``changes``, its handlers in ``actions``, what it
must be in ``artifacts``/``intent``, its reader in ``observe`` (and ``live``), its calls in
``door`` (and their answers in ``fakedoor``), its wanted/owned rule in ``diff``, which
``sweep`` reads too. A new failover event kind goes to
``vpnctl.failover.events``.

This file also makes ``vpnctl.aws`` a regular package: the gateway's zipapp imports it, and
``zipimport`` does not find namespace packages.
"""
