"""SageMaker's control plane over our runtime: the operations ``serving api`` answers.

Each operation is a method named as SageMaker names it (``CreateModel``), taking the request
as boto3 sends it (validated against botocore's model first, :mod:`serving.api.shapes`) and
returning the response body. The resources are SageMaker's and keep its rules:

- a model is a validated pipeline spec (:mod:`serving.pipeline.spec`), its containers as
  given, or expanded from a model package; nothing runs until an endpoint or a job uses it;
- an endpoint config's production variants name models and instance counts;
- an endpoint copies its config's models when it is created or updated (SageMaker deploys
  what the model was then; deleting the model later changes nothing), starts
  ``InitialInstanceCount`` copies of each variant's pipeline (:mod:`serving.api.fleet`) and
  goes ``Creating`` → ``InService``, or ``Failed`` with the reason the containers gave;
  ``UpdateEndpoint`` is blue/green (``Updating``; the old deployment serves until the new one
  is healthy; a failed update leaves it serving, ``InService`` with a ``FailureReason``);
- a transform job runs :class:`serving.transform.job.Job` on the model's pipeline
  (``InProgress`` → ``Completed``, ``Failed`` or, after ``StopTransformJob``, ``Stopped``);
- model package groups and versioned model packages, with their approval status.

State lives in :class:`serving.api.store.Store`; the running deployments and jobs in this
object. :meth:`SageMaker.recover` brings a restarted service back: endpoints that were
``InService`` (or on their way) come up again, jobs that were running resume where their
manifest says they stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigurationError
from ..pipeline import spec as specs
from ..pipeline.endpoint import STARTUP_TIMEOUT, Endpoint
from ..pipeline.executor import Limits
from . import shapes
from .shapes import ApiError
from .fleet import Deployment
from .store import Store

log = logging.getLogger("serving.api")

MODEL, CONFIG, ENDPOINT, JOB = "model", "endpoint-config", "endpoint", "transform-job"
GROUP, PACKAGE = "model-package-group", "model-package"
WHAT = {MODEL: "model", CONFIG: "endpoint configuration", ENDPOINT: "endpoint"}  # in "Could not find ..."
# A container field of CreateModel that a pipeline spec reads; the others are accepted, recorded and ignored.
SPEC_FIELDS = ("ContainerHostname", "Image", "ModelDataUrl", "ModelDataSource", "Mode", "Environment")
PACKAGE_FIELDS = ("ContainerHostname", "Image", "ModelDataUrl", "ModelDataSource", "Environment")
DEFAULT_PAGE = 10  # SageMaker's MaxResults default for its List operations


def invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


@dataclass
class Context:
    """Where a request comes from: the region of its signature (ARNs carry it) and the account."""

    region: str = "us-east-1"
    account: str = "123456789012"

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name.lower()}"


class SageMaker:
    def __init__(self, store: Store, *, backend: str = "process", workers: int | None = None,
                 limits: Limits | None = None, startup_timeout: float = STARTUP_TIMEOUT, stop_grace: float = 30.0,
                 logs=None):
        self.store = store
        self.logs = logs  # a serving.api.logs.LogBook: where the containers' lines are filed, if anywhere
        self.backend = backend
        self.workers = workers
        self.limits = limits or Limits()
        self.startup_timeout, self.stop_grace = startup_timeout, stop_grace
        self.deployments: dict[str, Deployment] = {}  # endpoint key -> what serves it
        self.jobs: dict[str, threading.Event] = {}  # a running job's stop
        self.lock = threading.RLock()
        self.closing = threading.Event()
        self.busy: set[threading.Thread] = set()  # creations, updates, deletions, restores and jobs under way

    # -- dispatch ----------------------------------------------------------------------------

    def call(self, operation: str, params: dict, context: Context) -> dict:
        handler: Callable | None = getattr(self, operation, None) if operation[:1].isupper() else None
        if handler is None or operation not in shapes.service_model().operation_names:
            if operation in shapes.service_model().operation_names:
                raise ApiError("UnknownOperationException",
                               f"SageMaker.{operation} is not implemented by serving api; see docs/sagemaker-api.md "
                               "for the operations it answers")
            raise ApiError("UnknownOperationException", f"SageMaker has no operation {operation}")
        shapes.validate(operation, params)
        return handler(params, context) or {}

    def background(self, target: Callable, *args, name: str) -> threading.Thread:
        def run():
            try:
                target(*args)
            finally:
                with self.lock:
                    self.busy.discard(thread)

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self.lock:
            self.busy.add(thread)
        thread.start()
        return thread

    # -- models ------------------------------------------------------------------------------

    def CreateModel(self, p: dict, ctx: Context) -> dict:
        name = p["ModelName"]
        arn = ctx.arn("model", name)
        if ("PrimaryContainer" in p) == ("Containers" in p):
            raise invalid("Exactly one of PrimaryContainer or Containers must be specified.")
        given = [p["PrimaryContainer"]] if "PrimaryContainer" in p else p["Containers"]
        containers = self.expand_packages(given, ctx)
        mode = (p.get("InferenceExecutionConfig") or {}).get("Mode", "Serial")
        if "PrimaryContainer" in p and "InferenceExecutionConfig" in p:
            raise invalid("InferenceExecutionConfig can only be specified with Containers, not with PrimaryContainer.")
        spec_doc = model_spec(containers, mode, name)
        doc = {"ModelName": name, "ModelArn": arn, "CreationTime": time.time(), "_spec": spec_doc}
        for key in ("PrimaryContainer", "Containers", "InferenceExecutionConfig", "ExecutionRoleArn", "VpcConfig",
                    "EnableNetworkIsolation"):
            if key in p:
                doc[key] = p[key]
        doc.setdefault("EnableNetworkIsolation", False)
        if not self.store.insert(MODEL, name, doc):
            raise invalid(f'Cannot create already existing model "{arn}".')
        self.tag(arn, p.get("Tags"))
        return {"ModelArn": arn}

    def expand_packages(self, containers: list[dict], ctx: Context) -> list[dict]:
        """A container naming a ModelPackageName stands for that package's containers."""
        out = []
        for container in containers:
            package_name = container.get("ModelPackageName")
            if package_name is None:
                out.append(container)
                continue
            package = self.package(package_name, ctx)
            status = package.get("ModelApprovalStatus")
            if package.get("ModelPackageGroupName") and status == "Rejected":
                raise invalid(f"Model package {package['ModelPackageArn']} is Rejected; approve it "
                              "(UpdateModelPackage ModelApprovalStatus=Approved) before creating a model from it.")
            for inner in package["InferenceSpecification"]["Containers"]:
                merged = {k: v for k, v in inner.items() if k in PACKAGE_FIELDS}
                merged["Environment"] = {**inner.get("Environment", {}), **container.get("Environment", {})}
                out.append(merged)
        return out

    def DescribeModel(self, p: dict, ctx: Context) -> dict:
        return public(self.model(p["ModelName"], ctx))

    def ListModels(self, p: dict, ctx: Context) -> dict:
        return listing(self.store.all(MODEL), p, "Models", "ModelName", ("ModelName", "ModelArn", "CreationTime"))

    def DeleteModel(self, p: dict, ctx: Context) -> dict:
        self.remove(MODEL, self.model(p["ModelName"], ctx), "ModelName", "ModelArn")
        return {}

    def model(self, name: str, ctx: Context) -> dict:
        return self.find(MODEL, name, ctx)

    def find(self, kind: str, name: str, ctx: Context) -> dict:
        """A model, endpoint config or endpoint, or SageMaker's ValidationException naming its ARN."""
        doc = self.store.get(kind, name)
        if doc is None:
            raise invalid(f'Could not find {WHAT[kind]} "{ctx.arn(kind, name)}".')
        return doc

    def remove(self, kind: str, doc: dict, name_field: str, arn_field: str) -> None:
        self.store.delete(kind, doc[name_field])
        self.store.delete_tags(doc[arn_field])

    # -- endpoint configs --------------------------------------------------------------------

    def CreateEndpointConfig(self, p: dict, ctx: Context) -> dict:
        name = p["EndpointConfigName"]
        arn = ctx.arn("endpoint-config", name)
        variants = p["ProductionVariants"]
        seen = set()
        for variant in variants:
            if variant["VariantName"] in seen:
                raise invalid(f"The variant name(s) [{variant['VariantName']}] is/are used more than once.")
            seen.add(variant["VariantName"])
            if "ModelName" not in variant:
                raise invalid(f"Variant {variant['VariantName']}: ModelName is required (inference components, "
                              "which a variant without a model serves, are not implemented here).")
            self.model(variant["ModelName"], ctx)
            if "InitialInstanceCount" not in variant and "ServerlessConfig" not in variant:
                raise invalid(f"Variant {variant['VariantName']}: InitialInstanceCount is required unless the variant "
                              "has a ServerlessConfig.")
        if "AsyncInferenceConfig" in p:
            raise invalid("AsyncInferenceConfig: asynchronous inference is not served by serving api; create the "
                          "endpoint without it and call InvokeEndpoint.")
        doc = {"EndpointConfigName": name, "EndpointConfigArn": arn, "CreationTime": time.time()}
        doc.update({k: v for k, v in p.items() if k not in ("EndpointConfigName", "Tags")})
        if not self.store.insert(CONFIG, name, doc):
            raise invalid(f'Cannot create already existing endpoint configuration "{arn}".')
        self.tag(arn, p.get("Tags"))
        return {"EndpointConfigArn": arn}

    def DescribeEndpointConfig(self, p: dict, ctx: Context) -> dict:
        return public(self.config(p["EndpointConfigName"], ctx))

    def ListEndpointConfigs(self, p: dict, ctx: Context) -> dict:
        return listing(self.store.all(CONFIG), p, "EndpointConfigs", "EndpointConfigName",
                       ("EndpointConfigName", "EndpointConfigArn", "CreationTime"))

    def DeleteEndpointConfig(self, p: dict, ctx: Context) -> dict:
        self.remove(CONFIG, self.config(p["EndpointConfigName"], ctx), "EndpointConfigName", "EndpointConfigArn")
        return {}

    def config(self, name: str, ctx: Context) -> dict:
        return self.find(CONFIG, name, ctx)

    def plan(self, config: dict, ctx: Context) -> list[dict]:
        """What an endpoint deploys from a config: each variant's weight, instance count and model spec, copied now."""
        out = []
        for variant in config["ProductionVariants"]:
            model = self.model(variant["ModelName"], ctx)
            out.append({"VariantName": variant["VariantName"], "weight": float(variant.get("InitialVariantWeight", 1.0)),
                        "count": int(variant.get("InitialInstanceCount", 1)), "spec": model["_spec"],
                        "images": [c.get("Image") for c in model["_spec"]["Containers"] if c.get("Image")]})
        return out

    # -- endpoints ---------------------------------------------------------------------------

    def CreateEndpoint(self, p: dict, ctx: Context) -> dict:
        name = p["EndpointName"]
        arn = ctx.arn("endpoint", name)
        config = self.config(p["EndpointConfigName"], ctx)
        plan = self.plan(config, ctx)
        now = time.time()
        doc = {"EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config["EndpointConfigName"],
               "EndpointStatus": "Creating", "CreationTime": now, "LastModifiedTime": now, "_plan": plan}
        for key in ("DeploymentConfig",):
            if key in p:
                doc[key] = p[key]
        if "DataCaptureConfig" in config:
            doc["DataCaptureConfig"] = {**config["DataCaptureConfig"], "CurrentSamplingPercentage": 0,
                                        "EnableCapture": False}
        if not self.store.insert(ENDPOINT, name, doc):
            raise invalid(f'Cannot create already existing endpoint "{arn}".')
        self.store.record(ENDPOINT, name, "Creating")
        self.tag(arn, p.get("Tags"))
        self.background(self.bring_up, name, name=f"create-{name}")
        return {"EndpointArn": arn}

    def bring_up(self, name: str) -> None:
        """Start an endpoint's deployment from its recorded plan: InService, or Failed with the reason."""
        doc = self.store.get(ENDPOINT, name)
        try:
            deployment = self.deploy(doc["EndpointName"], doc["EndpointConfigName"], doc["_plan"])
        except Exception as exc:  # noqa: BLE001 - any failure is the endpoint's FailureReason
            reason = failure_reason(exc)
            log.error("[%s] creation failed: %s", name, reason)
            self.mark_failed(name, "Creating", reason)
            return
        with self.lock:
            current = self.store.get(ENDPOINT, name)
            if current is None or current["EndpointStatus"] == "Deleting" or self.closing.is_set():
                gone = True
            else:
                gone = False
                self.deployments[name.lower()] = deployment
                self.store.update(ENDPOINT, name, EndpointStatus="InService", LastModifiedTime=time.time(),
                                  _deployed=deployed_images(doc["_plan"]))
                self.store.record(ENDPOINT, name, "InService")
        if gone:
            deployment.stop()
        else:
            log.info("[%s] InService: %s", name, ", ".join(f"{v.name} x{len(v.instances)}" for v in deployment.variants))

    def mark_failed(self, name: str, was: str, reason: str) -> None:
        """Failed with ``reason``, unless the endpoint left ``was`` meanwhile (a DeleteEndpoint wins)."""
        with self.lock:
            current = self.store.get(ENDPOINT, name)
            if current is not None and current["EndpointStatus"] == was:
                self.store.update(ENDPOINT, name, EndpointStatus="Failed", FailureReason=reason,
                                  LastModifiedTime=time.time())
                self.store.record(ENDPOINT, name, "Failed", reason)

    def deploy(self, name: str, config_name: str, plan: list[dict]) -> Deployment:
        def make(variant: dict, number: int) -> Endpoint:
            label = f"{name}.{number}"
            if self.logs is not None:
                self.logs.watch(label, f"/aws/sagemaker/Endpoints/{name}", f"{variant['VariantName']}/instance-{number}")
            return Endpoint(specs.from_dict(variant["spec"]), name=name, backend_name=self.backend, workers=self.workers,
                            limits=self.limits, startup_timeout=self.startup_timeout, stop_grace=self.stop_grace,
                            register=False, listen=False, label=label)

        return Deployment.start(name, config_name, plan, make)

    def DescribeEndpoint(self, p: dict, ctx: Context) -> dict:
        doc = self.endpoint(p["EndpointName"], ctx)
        out = public(doc)
        desired = {v["VariantName"]: v["count"] for v in doc["_plan"]}
        deployment = self.deployments.get(doc["EndpointName"].lower())
        if deployment is not None:
            out["ProductionVariants"] = deployment.summaries(desired)
            for summary in out["ProductionVariants"]:
                summary["DeployedImages"] = doc.get("_deployed", {}).get(summary["VariantName"], [])
        elif doc["EndpointStatus"] != "Failed":
            out["ProductionVariants"] = [{"VariantName": v["VariantName"], "CurrentWeight": v["weight"],
                                          "DesiredWeight": v["weight"], "CurrentInstanceCount": 0,
                                          "DesiredInstanceCount": v["count"]} for v in doc["_plan"]]
        return out

    def ListEndpoints(self, p: dict, ctx: Context) -> dict:
        return listing(self.store.all(ENDPOINT), p, "Endpoints", "EndpointName",
                       ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus"),
                       status_field="EndpointStatus")

    def UpdateEndpoint(self, p: dict, ctx: Context) -> dict:
        with self.lock:
            doc = self.endpoint(p["EndpointName"], ctx)
            status = doc["EndpointStatus"]
            if status in ("Creating", "Updating", "Deleting", "SystemUpdating"):
                raise invalid(f'Cannot update in-progress endpoint "{doc["EndpointArn"]}".')
            if status == "Failed":
                raise invalid(f'Cannot update failed endpoint "{doc["EndpointArn"]}"; delete it and create it again.')
            config = self.config(p["EndpointConfigName"], ctx)
            plan = self.plan(config, ctx)
            self.store.update(ENDPOINT, doc["EndpointName"], EndpointStatus="Updating", LastModifiedTime=time.time(),
                              _pending={"EndpointConfigName": config["EndpointConfigName"], "plan": plan})
            self.store.record(ENDPOINT, doc["EndpointName"], "Updating", config["EndpointConfigName"])
        self.background(self.switch, doc["EndpointName"], name=f"update-{doc['EndpointName']}")
        return {"EndpointArn": doc["EndpointArn"]}

    def switch(self, name: str) -> None:
        """Blue/green: the new deployment starts and passes its health checks, then takes the traffic;
        the old one finishes its requests and stops. On failure the old one keeps serving."""
        doc = self.store.get(ENDPOINT, name)
        pending = doc["_pending"]
        try:
            new = self.deploy(doc["EndpointName"], pending["EndpointConfigName"], pending["plan"])
        except Exception as exc:  # noqa: BLE001 - the update's failure, reported; the old deployment serves on
            reason = failure_reason(exc)
            log.error("[%s] update failed, the previous deployment keeps serving: %s", name, reason)
            with self.lock:  # a DeleteEndpoint meanwhile wins: its take-down removes the record
                current = self.store.get(ENDPOINT, name)
                if current is not None and current["EndpointStatus"] == "Updating":
                    self.store.update(ENDPOINT, name, EndpointStatus="InService", FailureReason=reason, _pending=None,
                                      LastModifiedTime=time.time())
                    self.store.record(ENDPOINT, name, "InService", f"update failed: {reason}")
            return
        with self.lock:
            old = self.deployments.get(name.lower())
            current = self.store.get(ENDPOINT, name)
            if current is None or current["EndpointStatus"] == "Deleting" or self.closing.is_set():
                old, retired = None, new
            else:
                retired = None
                self.deployments[name.lower()] = new
                current.update(EndpointStatus="InService", EndpointConfigName=pending["EndpointConfigName"],
                               _plan=pending["plan"], _pending=None, _deployed=deployed_images(pending["plan"]),
                               LastModifiedTime=time.time())
                if doc.get("DeploymentConfig"):
                    current["LastDeploymentConfig"] = doc["DeploymentConfig"]
                current.pop("FailureReason", None)
                self.store.put(ENDPOINT, name, current)
                self.store.record(ENDPOINT, name, "InService", pending["EndpointConfigName"])
        if retired is not None:
            retired.stop()
        if old is not None:
            old.retire()
        log.info("[%s] updated to %s", name, pending["EndpointConfigName"])

    def DeleteEndpoint(self, p: dict, ctx: Context) -> dict:
        with self.lock:
            doc = self.endpoint(p["EndpointName"], ctx)
            name = doc["EndpointName"]
            if doc["EndpointStatus"] == "Deleting":
                return {}
            self.store.update(ENDPOINT, name, EndpointStatus="Deleting", LastModifiedTime=time.time())
            self.store.record(ENDPOINT, name, "Deleting")
            deployment = self.deployments.pop(name.lower(), None)
        self.background(self.take_down, name, deployment, name=f"delete-{name}")
        return {}

    def take_down(self, name: str, deployment: Deployment | None) -> None:
        if deployment is not None:
            deployment.retire()
        doc = self.store.get(ENDPOINT, name)
        if doc is not None and doc["EndpointStatus"] == "Deleting":
            self.remove(ENDPOINT, doc, "EndpointName", "EndpointArn")
            self.store.record(ENDPOINT, name, "Deleted")
        log.info("[%s] deleted", name)

    def endpoint(self, name: str, ctx: Context) -> dict:
        return self.find(ENDPOINT, name, ctx)

    def deployment(self, name: str) -> Deployment | None:
        """What serves an endpoint's invocations: None unless it is InService (or Updating)."""
        return self.deployments.get(name.lower())

    # -- transform jobs ----------------------------------------------------------------------

    def CreateTransformJob(self, p: dict, ctx: Context) -> dict:
        from .jobs import job_options

        name = p["TransformJobName"]
        arn = ctx.arn("transform-job", name)
        model = self.model(p["ModelName"], ctx)
        if model["_spec"]["InferenceExecutionConfig"]["Mode"] != "Serial":
            raise invalid(f"Model {p['ModelName']} runs in Direct mode; a transform job needs a Serial pipeline.")
        try:
            job_options(p)
        except ConfigurationError as exc:
            raise invalid(str(exc)) from None
        now = time.time()
        doc = {"TransformJobName": name, "TransformJobArn": arn, "TransformJobStatus": "InProgress",
               "CreationTime": now, "LastModifiedTime": now, "TransformStartTime": now,
               "_spec": model["_spec"], "_model_arn": model["ModelArn"]}
        doc.update({k: v for k, v in p.items() if k not in ("TransformJobName", "Tags")})
        if not self.store.insert(JOB, name, doc):
            raise ApiError("ResourceInUse", f"Job name must be unique within an AWS account and region, and a job "
                                            f"with this name already exists ({arn})")
        self.store.record(JOB, name, "InProgress")
        self.tag(arn, p.get("Tags"))
        self.start_job(name)
        return {"TransformJobArn": arn}

    def start_job(self, name: str) -> None:
        from .jobs import run_job

        stop = threading.Event()
        with self.lock:
            self.jobs[name.lower()] = stop
        self.background(run_job, self, name, stop, name=f"transform-{name}")

    def recorded_job(self, name: str) -> dict | None:
        return self.store.get(JOB, name)

    def interrupted_job(self, name: str) -> None:
        """A job the service's own shutdown stopped: still InProgress, resumed by the next start."""
        self.store.record(JOB, name, "InProgress", "interrupted by a shutdown of serving api")
        with self.lock:
            self.jobs.pop(name.lower(), None)

    def finish_job(self, name: str, status: str, reason: str | None = None, **fields: Any) -> None:
        now = time.time()
        update = {"TransformJobStatus": status, "TransformEndTime": now, "LastModifiedTime": now, **fields}
        if reason:
            update["FailureReason"] = reason[:1024]
        self.store.update(JOB, name, **update)
        self.store.record(JOB, name, status, reason or "")
        with self.lock:
            self.jobs.pop(name.lower(), None)

    def DescribeTransformJob(self, p: dict, ctx: Context) -> dict:
        return public(self.job(p["TransformJobName"], ctx))

    def ListTransformJobs(self, p: dict, ctx: Context) -> dict:
        return listing(self.store.all(JOB), p, "TransformJobSummaries", "TransformJobName",
                       ("TransformJobName", "TransformJobArn", "CreationTime", "TransformEndTime", "LastModifiedTime",
                        "TransformJobStatus", "FailureReason"), status_field="TransformJobStatus")

    def StopTransformJob(self, p: dict, ctx: Context) -> dict:
        with self.lock:
            doc = self.job(p["TransformJobName"], ctx)
            if doc["TransformJobStatus"] != "InProgress":
                return {}  # stopping a finished job does nothing, as on SageMaker
            self.store.update(JOB, doc["TransformJobName"], TransformJobStatus="Stopping", LastModifiedTime=time.time())
            self.store.record(JOB, doc["TransformJobName"], "Stopping")
            stop = self.jobs.get(doc["TransformJobName"].lower())
        if stop is not None:
            stop.set()
        return {}

    def job(self, name: str, ctx: Context) -> dict:
        doc = self.store.get(JOB, name)
        if doc is None:
            raise ApiError("ResourceNotFound", f"Could not find requested job with name {name}")
        return doc

    # -- the model registry -------------------------------------------------------------------

    def CreateModelPackageGroup(self, p: dict, ctx: Context) -> dict:
        name = p["ModelPackageGroupName"]
        arn = ctx.arn("model-package-group", name)
        doc = {"ModelPackageGroupName": name, "ModelPackageGroupArn": arn, "CreationTime": time.time(),
               "ModelPackageGroupStatus": "Completed", "CreatedBy": {}, "_versions": 0}
        if "ModelPackageGroupDescription" in p:
            doc["ModelPackageGroupDescription"] = p["ModelPackageGroupDescription"]
        if not self.store.insert(GROUP, name, doc):
            raise invalid(f"Model Package Group already exists: {arn}")
        self.tag(arn, p.get("Tags"))
        return {"ModelPackageGroupArn": arn}

    def DescribeModelPackageGroup(self, p: dict, ctx: Context) -> dict:
        return public(self.group(p["ModelPackageGroupName"], ctx))

    def ListModelPackageGroups(self, p: dict, ctx: Context) -> dict:
        return listing(self.store.all(GROUP), p, "ModelPackageGroupSummaryList", "ModelPackageGroupName",
                       ("ModelPackageGroupName", "ModelPackageGroupArn", "ModelPackageGroupDescription", "CreationTime",
                        "ModelPackageGroupStatus"))

    def DeleteModelPackageGroup(self, p: dict, ctx: Context) -> dict:
        group = self.group(p["ModelPackageGroupName"], ctx)
        if any(k.get("ModelPackageGroupName", "").lower() == group["ModelPackageGroupName"].lower()
               for k in self.store.all(PACKAGE)):
            raise ApiError("ConflictException", f"Model Package Group {group['ModelPackageGroupArn']} still has model "
                                                "packages; delete them first (DeleteModelPackage).")
        self.remove(GROUP, group, "ModelPackageGroupName", "ModelPackageGroupArn")
        return {}

    def group(self, name: str, ctx: Context) -> dict:
        doc = self.store.get(GROUP, name.rsplit("/", 1)[-1] if name.startswith("arn:") else name)
        if doc is None:
            raise invalid(f"ModelPackageGroup {name} does not exist.")
        return doc

    def CreateModelPackage(self, p: dict, ctx: Context) -> dict:
        group_name, package_name = p.get("ModelPackageGroupName"), p.get("ModelPackageName")
        if (group_name is None) == (package_name is None):
            raise invalid("Exactly one of ModelPackageName (an unversioned package) or ModelPackageGroupName "
                          "(a version in a group) must be specified.")
        spec = p.get("InferenceSpecification")
        if spec is None:
            raise invalid("InferenceSpecification is required: the containers a model created from this package runs "
                          "(packages of algorithms, SourceAlgorithmSpecification, are not implemented here).")
        model_spec([{k: v for k, v in c.items() if k in PACKAGE_FIELDS} for c in spec["Containers"]], "Serial",
                   "the model package")
        now = time.time()
        doc = {k: v for k, v in p.items() if k not in ("Tags", "ClientToken")}
        doc.update(CreationTime=now, LastModifiedTime=now, ModelPackageStatus="Completed", CreatedBy={},
                   ModelPackageStatusDetails={"ValidationStatuses": [], "ImageScanStatuses": []})
        with self.store.lock:
            if group_name is not None:
                group = self.group(group_name, ctx)
                version = group["_versions"] + 1
                self.store.update(GROUP, group["ModelPackageGroupName"], _versions=version)
                key = f"{group['ModelPackageGroupName']}/{version}"
                doc.update(ModelPackageGroupName=group["ModelPackageGroupName"], ModelPackageVersion=version,
                           ModelPackageName=group["ModelPackageGroupName"])
                doc.setdefault("ModelApprovalStatus", "PendingManualApproval")
            else:
                key = package_name
            arn = ctx.arn("model-package", key)
            doc["ModelPackageArn"] = arn
            if not self.store.insert(PACKAGE, key, doc):
                raise invalid(f"Model Package {arn} already exists.")
        self.tag(arn, p.get("Tags"))
        return {"ModelPackageArn": arn}

    def package(self, name: str, ctx: Context) -> dict:
        key = name.split(":model-package/", 1)[1] if name.startswith("arn:") and ":model-package/" in name else name
        doc = self.store.get(PACKAGE, key)
        if doc is None:
            raise invalid(f"ModelPackage {name} does not exist.")
        return doc

    def package_key(self, doc: dict) -> str:
        return doc["ModelPackageArn"].split(":model-package/", 1)[1]

    def DescribeModelPackage(self, p: dict, ctx: Context) -> dict:
        return public(self.package(p["ModelPackageName"], ctx))

    def UpdateModelPackage(self, p: dict, ctx: Context) -> dict:
        doc = self.package(p["ModelPackageArn"], ctx)
        for key in ("ModelApprovalStatus", "ApprovalDescription", "InferenceSpecification", "SourceUri",
                    "ModelCard", "ModelLifeCycle", "AdditionalInferenceSpecifications"):
            if key in p:
                doc[key] = p[key]
        metadata = dict(doc.get("CustomerMetadataProperties") or {})
        metadata.update(p.get("CustomerMetadataProperties") or {})
        for key in p.get("CustomerMetadataPropertiesToRemove") or []:
            metadata.pop(key, None)
        if metadata or "CustomerMetadataProperties" in doc:
            doc["CustomerMetadataProperties"] = metadata
        doc["LastModifiedTime"] = time.time()
        self.store.put(PACKAGE, self.package_key(doc), doc)
        return {"ModelPackageArn": doc["ModelPackageArn"]}

    def ListModelPackages(self, p: dict, ctx: Context) -> dict:
        items = self.store.all(PACKAGE)
        group = p.get("ModelPackageGroupName")
        if group is not None:
            group = group.rsplit("/", 1)[-1].lower()
            items = [i for i in items if i.get("ModelPackageGroupName", "").lower() == group]
        kind = p.get("ModelPackageType", "Both")
        if kind == "Versioned":
            items = [i for i in items if "ModelPackageVersion" in i]
        elif kind == "Unversioned":
            items = [i for i in items if "ModelPackageVersion" not in i]
        if "ModelApprovalStatus" in p:
            items = [i for i in items if i.get("ModelApprovalStatus") == p["ModelApprovalStatus"]]
        return listing(items, p, "ModelPackageSummaryList", "ModelPackageName",
                       ("ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                        "ModelPackageDescription", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus"))

    def DeleteModelPackage(self, p: dict, ctx: Context) -> dict:
        doc = self.package(p["ModelPackageName"], ctx)
        self.store.delete(PACKAGE, self.package_key(doc))  # a version's key is group/version, not its name
        self.store.delete_tags(doc["ModelPackageArn"])
        return {}

    # -- tags ----------------------------------------------------------------------------------

    def tag(self, arn: str, tags: list[dict] | None) -> None:
        if tags:
            self.store.add_tags(arn, tags)

    def known_arn(self, arn: str) -> None:
        kinds = {"model": MODEL, "endpoint-config": CONFIG, "endpoint": ENDPOINT, "transform-job": JOB,
                 "model-package-group": GROUP, "model-package": PACKAGE}
        resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
        kind, _, name = resource.partition("/")
        if kind not in kinds or self.store.get(kinds[kind], name) is None:
            raise invalid(f"Resource {arn} does not exist or is not taggable here.")

    def AddTags(self, p: dict, ctx: Context) -> dict:
        self.known_arn(p["ResourceArn"])
        self.store.add_tags(p["ResourceArn"], p["Tags"])
        return {"Tags": self.store.tags(p["ResourceArn"])}

    def ListTags(self, p: dict, ctx: Context) -> dict:
        self.known_arn(p["ResourceArn"])
        tags = self.store.tags(p["ResourceArn"])
        start = int(p.get("NextToken") or 0)
        size = p.get("MaxResults", 50)
        out = {"Tags": tags[start:start + size]}
        if start + size < len(tags):
            out["NextToken"] = str(start + size)
        return out

    def DeleteTags(self, p: dict, ctx: Context) -> dict:
        self.known_arn(p["ResourceArn"])
        self.store.delete_tags(p["ResourceArn"], p["TagKeys"])
        return {}

    # -- restart and shutdown ------------------------------------------------------------------

    def recover(self) -> None:
        """After a restart: endpoints come back (InService ones and those on their way), a deletion
        finishes, jobs that were running resume from their manifests, a stopping one is Stopped."""
        for doc in self.store.all(ENDPOINT):
            name, status = doc["EndpointName"], doc["EndpointStatus"]
            if status == "Deleting":
                self.take_down(name, None)
            elif status in ("InService", "Creating", "Updating", "SystemUpdating"):
                # until its containers answer again, an endpoint that was serving is SystemUpdating
                # (SageMaker's status for an endpoint under maintenance), so a waiter for InService waits
                fields = {} if status == "Creating" else {"EndpointStatus": "SystemUpdating"}
                if status == "Updating":  # the switch had not happened: the recorded plan is what served
                    fields.update(_pending=None, FailureReason="the update was interrupted by a restart of serving api; "
                                                               "call UpdateEndpoint again")
                if fields:
                    self.store.update(ENDPOINT, name, **fields)
                    self.store.record(ENDPOINT, name, "SystemUpdating", "coming back after a restart of serving api")
                log.info("[%s] was %s before the restart; bringing it up", name, status)
                self.background(self.restore, name, "Creating" if status == "Creating" else "SystemUpdating",
                                name=f"restore-{name}")
        for doc in self.store.all(JOB):
            name, status = doc["TransformJobName"], doc["TransformJobStatus"]
            if status == "Stopping":
                self.finish_job(name, "Stopped")
            elif status == "InProgress":
                log.info("[%s] transform job was running before the restart; resuming it", name)
                self.store.record(JOB, name, "InProgress", "resumed after a restart of serving api")
                self.start_job(name)

    def restore(self, name: str, status: str) -> None:
        """Bring back an endpoint that was ``status`` (Creating or SystemUpdating) at the restart."""
        doc = self.store.get(ENDPOINT, name)
        try:
            deployment = self.deploy(name, doc["EndpointConfigName"], doc["_plan"])
        except Exception as exc:  # noqa: BLE001 - reported as the endpoint's state
            self.mark_failed(name, status, failure_reason(exc))
            return
        with self.lock:
            if self.closing.is_set() or (self.store.get(ENDPOINT, name) or {}).get("EndpointStatus") == "Deleting":
                deployment.stop()
                return
            self.deployments[name.lower()] = deployment
            self.store.update(ENDPOINT, name, EndpointStatus="InService", LastModifiedTime=time.time(),
                              _deployed=deployed_images(doc["_plan"]))
            self.store.record(ENDPOINT, name, "InService", "after a restart of serving api")

    def close(self) -> None:
        """Stop every deployment (their records stay, so the next start brings them back) and every job."""
        self.closing.set()
        with self.lock:
            deployments = list(self.deployments.values())
            self.deployments.clear()
            stops = list(self.jobs.values())
        for stop in stops:
            stop.set()
        with ThreadPoolExecutor(max_workers=max(1, len(deployments))) as pool:
            list(pool.map(lambda d: d.retire(), deployments))
        # what is under way finishes before the state closes: a deployment being started is stopped
        # once it is up (closing is set), a deletion removes its record, a job records how it ended
        deadline = time.monotonic() + self.startup_timeout + self.stop_grace + 30
        with self.lock:
            busy = list(self.busy)
        for thread in busy:
            thread.join(max(0.0, deadline - time.monotonic()))


# -- helpers -----------------------------------------------------------------------------------

def model_spec(containers: list[dict], mode: str, name: str) -> dict:
    """The pipeline spec of a CreateModel request, validated by the pipeline package; a container
    field no spec reads is dropped (ImageConfig ...) or, where ignoring it would change the model,
    refused."""
    cleaned = []
    for i, container in enumerate(containers, 1):
        if container.get("AdditionalModelDataSources"):
            raise invalid(f"Container {i}: AdditionalModelDataSources is not supported by serving api; package the "
                          "extra data into the model's ModelDataUrl archive.")
        if container.get("MultiModelConfig") or container.get("Mode") == "MultiModel":
            raise invalid(f"Container {i}: Mode MultiModel is not supported by serving api; only SingleModel "
                          "containers (one model per container) are served.")
        cleaned.append({k: v for k, v in container.items() if k in SPEC_FIELDS})
    try:
        spec = specs.from_dict({"Containers": cleaned, "InferenceExecutionConfig": {"Mode": mode}}, source=name)
    except ConfigurationError as exc:
        raise invalid(str(exc)) from None
    return spec.to_dict()


def deployed_images(plan: list[dict]) -> dict[str, list[dict]]:
    now = time.time()
    return {v["VariantName"]: [{"SpecifiedImage": i, "ResolvedImage": i, "ResolutionTime": now} for i in v["images"]]
            for v in plan}


def failure_reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, (ConfigurationError, ApiError)) else f"{type(exc).__name__}: {exc}"
    return text[:1024]


def public(doc: dict) -> dict:
    """A description without the fields only we read."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and v is not None}


def listing(items: list[dict], p: dict, key: str, name_field: str, fields: tuple[str, ...],
            status_field: str | None = None) -> dict:
    """A List operation: SageMaker's filters, sort order and NextToken paging."""
    if "NameContains" in p:
        needle = p["NameContains"].lower()
        items = [i for i in items if needle in i[name_field].lower()]
    for bound, test in (("CreationTimeBefore", lambda i, t: i["CreationTime"] < t),
                        ("CreationTimeAfter", lambda i, t: i["CreationTime"] > t),
                        ("LastModifiedTimeBefore", lambda i, t: i.get("LastModifiedTime", 0) < t),
                        ("LastModifiedTimeAfter", lambda i, t: i.get("LastModifiedTime", 0) > t)):
        if bound in p:
            limit = float(p[bound])
            items = [i for i in items if test(i, limit)]
    if status_field and "StatusEquals" in p:
        items = [i for i in items if i.get(status_field) == p["StatusEquals"]]
    sort_by = p.get("SortBy", "CreationTime")
    sort_key = (lambda i: i[name_field].lower()) if sort_by == "Name" else (
        lambda i: (i.get(sort_by if sort_by != "Status" else status_field) or 0))
    items = sorted(items, key=sort_key, reverse=p.get("SortOrder", "Descending") == "Descending")
    try:
        start = int(p.get("NextToken") or 0)
    except ValueError:
        raise invalid(f"NextToken {p['NextToken']!r} is not one this service gave out") from None
    size = p.get("MaxResults", DEFAULT_PAGE)
    out: dict[str, Any] = {key: [{f: i[f] for f in fields if i.get(f) is not None} for i in items[start:start + size]]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out
