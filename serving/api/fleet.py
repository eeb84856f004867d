"""What runs behind an API endpoint: its production variants, each ``InitialInstanceCount`` copies of the pipeline.

An instance is an :class:`~serving.pipeline.endpoint.Endpoint` without a port of its own
(``listen=False``): its containers, supervised and restarted by the backend as under
``serving endpoint up``, and its router, which the API calls in-process. A request goes to a
variant by ``TargetVariant`` or by the variants' weights, then to the variant's healthy
instance with the fewest requests in flight (SageMaker's least-outstanding-requests
routing); an instance whose container is restarting gets none while another can answer.

A request is counted on its instance's pipeline (the router's own count, which ``down()``
drains) from the moment the instance is chosen, so retiring a deployment (an update's old one,
a deleted endpoint's) refuses new requests and then stops each instance after its requests.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..errors import BadRequest
from ..pipeline.backends import READY
from ..pipeline.endpoint import Endpoint


class Retired(Exception):
    """The deployment was replaced (an update) or is being deleted: look the endpoint up again."""


@dataclass(eq=False)
class Instance:
    endpoint: Endpoint
    number: int  # 1, 2, ... across the deployment: the ``.N`` of its log prefix

    @property
    def pipeline(self):
        return self.endpoint.router.pipeline

    @property
    def healthy(self) -> bool:
        router = self.endpoint.router
        return router is not None and all(c.state == READY for c in router.pipeline.containers)

    def problems(self) -> list[str]:
        router = self.endpoint.router
        if router is None:
            return ["not started"]
        return [c.reason for c in router.pipeline.containers if c.state != READY]


@dataclass(eq=False)
class Variant:
    name: str
    weight: float
    instances: list[Instance] = field(default_factory=list)


class Deployment:
    """The running variants of one endpoint config."""

    def __init__(self, endpoint_name: str, config_name: str, variants: list[Variant]):
        self.endpoint_name = endpoint_name
        self.config_name = config_name
        self.variants = variants
        self.by_name = {v.name: v for v in variants}
        self.retired = False  # set by retire(): no request may take an instance any more
        self._lock = threading.Condition()

    @classmethod
    def start(cls, endpoint_name: str, config_name: str, plan: list[dict], make: Callable[[dict, int], Endpoint]
              ) -> "Deployment":
        """Start every instance of every variant at once; if any fails, stop them all and raise its error.

        ``plan`` is the variants (``VariantName``, ``weight``, ``count``, ``spec``); ``make(variant, n)``
        builds instance ``n`` of that plan entry, not yet started.
        """
        variants, instances, number = [], [], 0
        for item in plan:
            variant = Variant(item["VariantName"], item["weight"])
            for _ in range(item["count"]):
                number += 1
                instance = Instance(make(item, number), number)
                variant.instances.append(instance)
                instances.append(instance)
            variants.append(variant)
        errors: list[BaseException] = []

        def start_one(instance: Instance) -> None:
            try:
                instance.endpoint.start()
            except BaseException as exc:  # noqa: BLE001 - reported below, the others stopped
                errors.append(exc)

        threads = [threading.Thread(target=start_one, args=(i,), name=f"start-{endpoint_name}.{i.number}")
                   for i in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deployment = cls(endpoint_name, config_name, variants)
        if errors:
            deployment.stop()
            raise errors[0]
        return deployment

    @property
    def instances(self) -> list[Instance]:
        return [i for v in self.variants for i in v.instances]

    def acquire(self, target: str | None = None, exclude: frozenset = frozenset(),
                variant: Variant | None = None) -> tuple[Variant, Instance]:
        """The variant and instance for one request, counted as in use until :meth:`release`;
        ``exclude``: instances already tried for it (a retry stays in ``variant``)."""
        if variant is not None:
            pass
        elif target is not None:
            variant = self.by_name.get(target)
            if variant is None:
                raise BadRequest(f"Target variant {target} is not one of endpoint {self.endpoint_name}'s variants "
                                 f"({', '.join(self.by_name)})")
        elif len(self.variants) == 1:
            variant = self.variants[0]
        else:
            weights = [v.weight for v in self.variants]
            variant = random.choices(self.variants, weights if sum(weights) > 0 else None)[0]
        with self._lock:
            if self.retired:
                raise Retired(self.endpoint_name)
            untried = [i for i in variant.instances if i not in exclude] or variant.instances
            healthy = [i for i in untried if i.healthy] or untried
            instance = min(healthy, key=lambda i: (i.pipeline.inflight, random.random()))
            instance.pipeline.enter()
        return variant, instance

    def release(self, instance: Instance) -> None:
        instance.pipeline.leave()

    def retire(self) -> None:
        """Take no more requests; stop every instance once its requests are answered (its ``down()`` drains them)."""
        with self._lock:
            self.retired = True
        self.stop()

    def stop(self) -> None:
        threads = [threading.Thread(target=i.endpoint.down) for i in self.instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def summaries(self, desired: dict[str, int]) -> list[dict]:
        """DescribeEndpoint's ProductionVariants: counts of healthy instances, and what is wrong with the others."""
        out = []
        for variant in self.variants:
            healthy = sum(i.healthy for i in variant.instances)
            summary = {"VariantName": variant.name, "CurrentWeight": variant.weight, "DesiredWeight": variant.weight,
                       "CurrentInstanceCount": healthy,
                       "DesiredInstanceCount": desired.get(variant.name, len(variant.instances))}
            statuses = []
            for instance in variant.instances:
                problems = instance.problems()
                if problems:  # SageMaker replaces an unhealthy instance: "Updating" is the closest status it has
                    statuses.append({"Status": "Updating",
                                     "StatusMessage": f"instance {instance.number}: {'; '.join(problems)}"})
            if statuses:
                summary["VariantStatus"] = statuses
            out.append(summary)
        return out
