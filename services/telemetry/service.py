"""The gRPC shell of the telemetry service: validate, call the cores, build the response.

The charts come from defrag.sky and the time rules from defrag.localtime.
A single chart takes well under a millisecond of CPU, so GetVectors computes
it on the event loop. A batch of 366 charts takes tens of milliseconds, so
BatchGetVectors computes in a worker thread, so the event loop keeps serving
health checks and other calls meanwhile.
"""

import asyncio
import dataclasses
import datetime as dt
import math
import time

import grpc
import numpy as np
from google.protobuf import descriptor as pb_descriptor
from prometheus_client import Counter, Histogram

from defrag import ephemeris, localtime, sky, zodiac
from defrag.common.v1 import common_pb2
from defrag.platform.calls import format_timestamp, request_id
from defrag.platform.errors import FieldViolation, invalid_argument
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

SERVICE_DESCRIPTOR = telemetry_pb2.DESCRIPTOR.services_by_name["TelemetryService"]

# The gateway checks this range before any charge; the service checks it again.
BATCH_LIMITS = (1, 366)

_FIELD_NUMBERS = {field.name: field.number for field in telemetry_pb2.GetVectorsRequest.DESCRIPTOR.fields}
_BATCH_FIELD_NUMBERS = {field.name: field.number for field in telemetry_pb2.BatchGetVectorsRequest.DESCRIPTOR.fields}

GET_VECTORS = f"/{SERVICE_DESCRIPTOR.full_name}/GetVectors"
BATCH_GET_VECTORS = f"/{SERVICE_DESCRIPTOR.full_name}/BatchGetVectors"
COMPUTE_SECONDS = Histogram(
    "defrag_telemetry_compute_duration_seconds",
    "Time to compute the charts of one answered request and build its responses, by method "
    "(a batch is measured in its worker thread).",
    ["method"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
CHARTS_TOTAL = Counter(
    "defrag_telemetry_charts_total", "Charts computed for answered requests, by method (one per instant of a batch).", ["method"],
)
for _method in (GET_VECTORS, BATCH_GET_VECTORS):
    COMPUTE_SECONDS.labels(_method)
    CHARTS_TOTAL.labels(_method)


@dataclasses.dataclass(frozen=True)
class _Shared:
    """The fields that one request, or every instant of a batch, shares."""

    observer: sky.Observer
    tz: str
    utc_offset: str
    calendar: str
    time_scale: str
    options: sky.Options


@dataclasses.dataclass(frozen=True)
class _Reading:
    """One instant after its zone (or the TT scale) is applied."""

    jd: float  # on the request's time scale
    utc: dt.datetime
    local: dt.datetime
    zone_name: str
    utc_offset: str
    local_mean_time: bool
    time_known: bool
    warnings: tuple[str, ...]


class TelemetryServicer(telemetry_pb2_grpc.TelemetryServiceServicer):
    """Serves defrag.telemetry.v1.TelemetryService."""

    async def GetVectors(
        self,
        request: telemetry_pb2.GetVectorsRequest,
        context: grpc.aio.ServicerContext,
    ) -> telemetry_pb2.GetVectorsResponse:
        shared, errors = _read_shared(request, time_known=bool(request.time))
        reading = _collect_reading(errors, "", shared, request.date, request.time, _fold(request))
        _raise_if_invalid(errors, _FIELD_NUMBERS)
        readings = [_resolve(reading, shared, "")]
        return _responses(request_id(context), shared, readings)[0]

    async def BatchGetVectors(
        self,
        request: telemetry_pb2.BatchGetVectorsRequest,
        context: grpc.aio.ServicerContext,
    ) -> telemetry_pb2.BatchGetVectorsResponse:
        count = len(request.instants)
        low, high = BATCH_LIMITS
        if not low <= count <= high:
            raise invalid_argument([FieldViolation("instants", f"has {count} entries, outside the allowed {low}..{high}: send {low} to {high} instants per request")])
        shared, errors = _read_shared(request, time_known=any(instant.time for instant in request.instants))
        parsed = [
            _collect_reading(errors, f"instants[{index}].", shared, instant.date, instant.time, _fold(instant))
            for index, instant in enumerate(request.instants)
        ]
        _raise_if_invalid(errors, _BATCH_FIELD_NUMBERS)
        readings = [_resolve(reading, shared, f"instants[{index}].") for index, reading in enumerate(parsed)]
        charts = await asyncio.to_thread(_responses, request_id(context), shared, readings, True)
        return telemetry_pb2.BatchGetVectorsResponse(request_id=request_id(context), charts=charts)


def register(server: grpc.aio.Server) -> list[pb_descriptor.ServiceDescriptor]:
    """Add the telemetry servicer to a server and return its descriptor for health and metrics."""
    telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server(TelemetryServicer(), server)
    return [SERVICE_DESCRIPTOR]


def _fold(message) -> int:
    return message.fold if message.HasField("fold") else 0


def _read_shared(request, time_known: bool) -> tuple[_Shared, list[localtime.InvalidField]]:
    """Check the place and option fields, and return the shared settings with the errors found.

    time_known is true when any instant has a time, so that angles and
    houses are computed only when some chart shows them.
    """
    lat = request.lat if request.HasField("lat") else None
    lon = request.lon if request.HasField("lon") else None
    elevation = request.elevation_meters if request.HasField("elevation_meters") else None
    errors = sky.validate_observer(lat, lon, elevation)
    errors.extend(sky.validate_options(request.time_scale, request.zodiac, request.ayanamsa, request.house_system))
    time_scale = request.time_scale or sky.DEFAULT_TIME_SCALE
    if time_scale == "tt":
        for field in ("tz", "utc_offset"):
            if getattr(request, field):
                errors.append(localtime.InvalidField(field, f"time_scale=tt reads date and time as Terrestrial Time, which has no zone: leave {field} empty"))

    options = sky.options_from_fields(request.zodiac, request.ayanamsa, request.house_system, request.refraction, time_known)
    observer = sky.Observer(lat or 0.0, lon or 0.0, elevation or 0.0)
    return _Shared(observer, request.tz, request.utc_offset, request.calendar, time_scale, options), errors


def _collect_reading(errors, prefix: str, shared: _Shared, date: str, time: str, fold: int) -> localtime.LocalReading | None:
    """Parse one instant's date and time, adding its errors (with the field prefix) to errors."""
    try:
        return localtime.read_local_time(
            date,
            time,
            # With time_scale=tt no zone applies, and _read_shared already rejected zone fields.
            tz="" if shared.time_scale == "tt" else shared.tz,
            utc_offset="" if shared.time_scale == "tt" else shared.utc_offset,
            fold=fold,
            calendar=shared.calendar,
            years=(sky.FIRST_YEAR, sky.LAST_YEAR),
        )
    except localtime.InvalidInput as error:
        for item in error.errors:
            field = item.field if not prefix or item.field not in ("date", "time", "fold") else f"{prefix}{item.field}"
            if not any(existing.field == field for existing in errors):
                errors.append(localtime.InvalidField(field, item.description))
        return None


def _raise_if_invalid(errors: list[localtime.InvalidField], field_numbers: dict[str, int]) -> None:
    if errors:
        # List the violations in the order of the request's fields.
        errors.sort(key=lambda error: field_numbers.get(error.field.split(".")[0].split("[")[0], 0))
        raise invalid_argument([FieldViolation(error.field, error.description) for error in errors])


def _resolve(reading: localtime.LocalReading, shared: _Shared, prefix: str) -> _Reading:
    """Apply the zone (or the TT scale) to a parsed instant. Raises INVALID_ARGUMENT for a skipped local time or another invalid field."""
    if shared.time_scale == "tt":
        return _Reading(
            jd=sky.julian_date(reading.local),
            utc=sky.utc_from_tt(sky.julian_date(reading.local)),
            local=reading.local,
            zone_name="TT",
            utc_offset="",
            local_mean_time=False,
            time_known=reading.time_known,
            warnings=reading.warnings,
        )
    observer = shared.observer
    try:
        resolved = localtime.resolve(reading, observer.lat, observer.lon)
    except localtime.InvalidField as error:
        reason = "NONEXISTENT_LOCAL_TIME" if isinstance(error, localtime.NonexistentLocalTime) else "INVALID_ARGUMENT"
        field = f"{prefix}{error.field}" if error.field in ("date", "time") else error.field
        raise invalid_argument([FieldViolation(field, error.description)], reason=reason) from None
    return _Reading(
        jd=sky.julian_date(resolved.utc),
        utc=resolved.utc,
        local=resolved.local,
        zone_name=resolved.zone_name,
        utc_offset=localtime.format_utc_offset(resolved.utc_offset),
        local_mean_time=resolved.local_mean_time,
        time_known=resolved.time_known,
        warnings=resolved.warnings,
    )


def _responses(
    request_id_value: str, shared: _Shared, readings: list[_Reading], batch: bool = False
) -> list[telemetry_pb2.GetVectorsResponse]:
    """Compute every chart in one vectorised call and build one response per reading."""
    started = time.perf_counter()
    jd = np.array([reading.jd for reading in readings])
    try:
        charts = sky.compute_charts(jd, shared.time_scale, shared.observer, shared.options)
    except ephemeris.OutsideEphemeris:
        field = f"instants[{_first_outside(jd, shared)}].date" if batch else "date"
        raise invalid_argument(
            [FieldViolation(field, f"the instant falls outside the {ephemeris.KERNEL} ephemeris: send a date from "
                            f"{sky.FIRST_YEAR:04d}-01-01 to {sky.LAST_YEAR:04d}-12-31")]
        ) from None
    location = common_pb2.Location(lat=shared.observer.lat, lon=shared.observer.lon, elevation_meters=shared.observer.elevation_meters)
    source = telemetry_pb2.Source(engine=sky.SOURCE.engine, engine_version=sky.SOURCE.engine_version, ephemeris=sky.SOURCE.ephemeris)
    zodiac_name = telemetry_pb2.Zodiac(zodiac=shared.options.zodiac, ayanamsa=shared.options.ayanamsa)
    responses = [
        _response(request_id_value, charts, index, reading, location, source, zodiac_name)
        for index, reading in enumerate(readings)
    ]
    method = BATCH_GET_VECTORS if batch else GET_VECTORS
    COMPUTE_SECONDS.labels(method).observe(time.perf_counter() - started)
    CHARTS_TOTAL.labels(method).inc(len(responses))
    return responses


def _first_outside(jd: np.ndarray, shared: _Shared) -> int:
    """Return the index of the first instant that the ephemeris does not cover (only called on that error path)."""
    for index, value in enumerate(jd.tolist()):
        try:
            sky.compute_charts(np.array([value]), shared.time_scale, shared.observer, shared.options)
        except ephemeris.OutsideEphemeris:
            return index
    return 0


def _response(request_id_value, charts: sky.Charts, index: int, reading: _Reading, location, source, zodiac_name) -> telemetry_pb2.GetVectorsResponse:
    positions = charts.positions
    instants = charts.instants
    columns = {
        name: values[index].tolist()
        for name, values in (
            ("ra", positions.ra), ("dec", positions.dec), ("distance", positions.distance_au),
            ("azimuth", positions.azimuth), ("altitude", positions.altitude), ("airless", positions.airless_altitude),
            ("longitude", charts.longitude), ("sign", charts.sign), ("degree", charts.degree_in_sign),
            ("latitude", positions.latitude), ("geocentric", positions.geocentric_distance_au),
            ("speed", charts.speed), ("retrograde", charts.retrograde), ("stationary", charts.stationary),
        )
    }
    # A chart without a time shows no angles or houses, even inside a batch where others have them.
    with_houses = reading.time_known and charts.house is not None
    houses_row = charts.house[index].tolist() if with_houses else [0] * len(sky.BODIES)
    bodies = [
        telemetry_pb2.BodyVector(
            body=body,
            ra_degrees=columns["ra"][column],
            dec_degrees=columns["dec"][column],
            distance_au=columns["distance"][column],
            azimuth_degrees=columns["azimuth"][column],
            altitude_degrees=columns["altitude"][column],
            topocentric=True,
            biological_pressure_score=sky.biological_pressure_score(columns["airless"][column]),
            ecliptic=telemetry_pb2.EclipticPoint(
                longitude_degrees=columns["longitude"][column],
                sign=zodiac.SIGNS[columns["sign"][column]],
                degree_in_sign=columns["degree"][column],
            ),
            ecliptic_latitude_degrees=columns["latitude"][column],
            geocentric_distance_au=columns["geocentric"][column],
            speed_degrees_per_day=columns["speed"][column],
            retrograde=columns["retrograde"][column],
            stationary=columns["stationary"][column],
            house=houses_row[column],
        )
        for column, body in enumerate(sky.BODIES)
    ]

    response = telemetry_pb2.GetVectorsResponse(
        request_id=request_id_value,
        timestamp=format_timestamp(reading.utc),
        location=location,
        observer_timezone=reading.zone_name,
        utc_offset=reading.utc_offset,
        local_time=reading.local.isoformat(timespec="seconds"),
        bodies=bodies,
        source=source,
        precision=charts.precision[index],
        refraction_applied=charts.options.refraction,
        warnings=[
            *reading.warnings,
            *charts.warnings[index],
            *(charts.house_warnings[index] if with_houses else ()),
            *(() if reading.time_known else (_NO_TIME_WARNING,)),
        ],
        time_known=reading.time_known,
        local_mean_time=reading.local_mean_time,
        lunar_nodes=telemetry_pb2.LunarNodes(
            mean_node=_point(float(charts.mean_node[index])),
            true_node=_point(float(charts.true_node[index])),
        ),
        moon_phase=telemetry_pb2.MoonPhase(
            phase_angle_degrees=float(positions.moon_phase_angle[index]),
            illuminated_fraction=float(positions.moon_illuminated_fraction[index]),
            elongation_degrees=float(positions.moon_elongation[index]),
            waxing=bool(positions.moon_elongation[index] < 180.0),
        ),
        time_scales=telemetry_pb2.TimeScales(
            time_scale=charts.time_scale,
            julian_day_tt=float(instants.jd_tt[index]),
            delta_t_seconds=float(instants.delta_t[index]),
            ut1_source=instants.ut1_source[index],
        ),
        zodiac=zodiac_name,
        true_obliquity_degrees=float(positions.true_obliquity[index]),
        local_sidereal_time_degrees=float(positions.local_sidereal_time[index]),
    )
    dut1 = float(instants.ut1_minus_utc[index])
    if not math.isnan(dut1):  # NaN before 1960, when there was no UTC
        response.time_scales.ut1_minus_utc_seconds = dut1
    if charts.ayanamsa is not None:
        response.zodiac.ayanamsa_degrees = float(charts.ayanamsa[index])
    if with_houses:
        ascendant, midheaven, descendant, imum_coeli, vertex = (_point(value) for value in charts.angles[index].tolist())
        response.angles.CopyFrom(telemetry_pb2.Angles(
            ascendant=ascendant, midheaven=midheaven, descendant=descendant, imum_coeli=imum_coeli, vertex=vertex,
        ))
        response.houses.CopyFrom(telemetry_pb2.Houses(
            house_system=charts.options.house_system,
            house_system_used=charts.house_system_used[index],
            cusps=[_point(value) for value in charts.cusps[index].tolist()],
        ))
    return response


_NO_TIME_WARNING = (
    "without a time the chart has no angles or houses, and the Moon, which moves about 13 degrees a day, "
    "may be up to about 7 degrees from its place at the true time"
)


def _point(longitude: float) -> telemetry_pb2.EclipticPoint:
    sign, degree = zodiac.sign_of(longitude)
    return telemetry_pb2.EclipticPoint(longitude_degrees=longitude, sign=sign, degree_in_sign=degree)
