"""The AWS layer: from a design to AWS and back, one stage per module.

apply and destroy run ``deployer``'s pipeline:

    plan -> intent -> lock -> observe -> diff (+ sweep) -> show -> confirm -> execute -> unlock

    artifacts   the pure ``Intent``: what AWS must hold (user-data, software, configurations,
                the hook package), built from the plan
    intent      the ``Intent`` type and the names and tags derived from it
    names       every name, tag and EC2 state set, with AWS's length limits (the one table)
    observe     one read pass per account and region into ``live`` (the snapshot types);
                ``scope`` says what it reads
    kinds       one declaration per kind of tagged object: what the design wants, how live
                shows it, its change classes and its removal; diff finds by it, sweep keeps by it
    diff        pure: intent + live -> typed ``changes`` (one class per kind, ordered by ``Stage``)
    sweep       pure: what vpnctl owns and no longer wants, from the same ``kinds`` as diff
    actions     one handler per change kind, filed by class in ``handlers.HANDLERS`` (one
                explicit table, the failover hook's ``hookactions`` included); they see the
                executor as ``context.Executor``; ``execute`` runs them stage by stage, ``retry``
                retries
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

A new resource kind (a tagged object per name in a region) touches:

    changes.py    its change classes (create, update, delete), each with its ``Stage``
    actions.py    its handlers (the AWS calls), and their rows in ``handlers.py``
    intent.py     what it must be, if the design alone does not say (names go to ``names.py``)
    observe.py    its reader, into its field of ``live.Region`` (``live.py``)
    door/         the calls its handlers and reader make (one method each), and their
                  answers in ``fakedoor.py``
    kinds.py      its ``Kind``: what the design wants, where live shows it, its removal; diff
                  finds it by ``Kind.find`` and sweep removes what ``Kind.wanted`` does not list,
                  so it cannot be made by one apply and swept by the next
    diff.py       the walk that emits its create and update changes

and tests/unit/aws/world.py its rule in the model world that the sweep properties run on
(``test_sweep_properties``, which fails for a change class with no rule, and ``test_handlers``
for one with no handler). Other shapes (rules in a group, routes in a table, records, keys,
artifacts) are claimed in ``kinds.OTHERS`` and swept in ``sweep.py``. A new failover event kind
goes to ``vpnctl.failover.events``.

This file also makes ``vpnctl.aws`` a regular package: the gateway's zipapp imports it, and
``zipimport`` does not find namespace packages.
"""
