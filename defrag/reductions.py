"""The per-instant reductions of defrag.chart, compiled with Numba.

A chart needs a few hundred small vector operations: fourteen Chebyshev
series, light time, deflection and aberration for ten bodies seen from two
places, rotations and angles. As NumPy calls on arrays of three to thirty
numbers, each would cost about a microsecond of call overhead, but compiled
as one loop they take a few microseconds in all. Numba compiles this module on
first use and caches the machine code in __pycache__ (or NUMBA_CACHE_DIR),
so later processes load it in a fraction of a second.

The formulas are those of the IERS Conventions and ERFA (the tests compare
this module with erfa.ld, erfa.ab and erfa.hd2ae). With p the direction
to the body, q the direction from the Sun to the body, e the direction from
the Sun to the observer, E the Sun-observer distance in au, r = 2GM/c^2 of
the Sun in au, and v the observer's barycentric velocity in units of c:
- light deflection by the Sun: p' = p + (r / E) / (q.(q + e)) p x (e x q)
- aberration: p'' = p' sqrt(1 - v^2) + (1 + p'.v / (1 + sqrt(1 - v^2))) v
  + (r / E) (v - (p'.v) p'), normalised

This module imports no gRPC and no Redis.
"""

import math

import numba
import numpy as np

# 2GM/c^2 of the Sun in astronomical units (the value ERFA uses).
SCHWARZSCHILD_RADIUS_OF_SUN_AU = 1.97412574336e-8
# Below this, the deflection formula's denominator is clamped (ERFA's dlim for the Sun's limb).
DEFLECTION_LIMIT = 1e-9

BODY_COUNT = 10
ROW_COUNT = 14
_SUN = 0
_MOON = 1
_BARYCENTRE_AT_MOON = 10
_MOON_AT_MOON = 11
_BARYCENTRE_NOW = 12
_MOON_NOW = 13
_DEGREES = 180.0 / math.pi
_TWO_PI = 2.0 * math.pi


@numba.njit(cache=True, fastmath=False)
def _chebyshev(coefficients, row, x, scale, out, out_row):
    """Evaluate one Chebyshev record at x in [-1, 1] into out[out_row]: position, and velocity times scale (2 / interval)."""
    count = coefficients.shape[2]
    for axis in range(3):
        c = coefficients[row, axis]
        t_prev, t_now = 1.0, x
        d_prev, d_now = 0.0, 1.0
        position = c[0] + c[1] * x
        velocity = c[1]
        for k in range(2, count):
            t_next = 2.0 * x * t_now - t_prev
            d_next = 2.0 * t_now + 2.0 * x * d_now - d_prev
            position += c[k] * t_next
            velocity += c[k] * d_next
            t_prev, t_now = t_now, t_next
            d_prev, d_now = d_now, d_next
        out[out_row, 0, axis] = position
        out[out_row, 1, axis] = velocity * scale


@numba.njit(cache=True)
def reduce_instants(
    jd_tdb, npb, gast, true_obliquity, lon_radians, lat_radians, terrestrial,
    coefficients, first_row, row_count, days_per_row, start_jd, segments, estimated_light_days,
    earth_share, light_day_km, au_km, precession_degrees_per_day,
    ra, dec, distance, azimuth, altitude, longitude, latitude, geocentric_distance, speed,
    true_node, phase_angle, illuminated_fraction, elongation, local_sidereal_time,
    jd_tt, nutation_longitude, mean_node, stationary_limit, retrograde, stationary,
):
    """Fill the output arrays (N, 10) and (N,) for N instants, every angle in degrees.

    npb: (N, 3, 3) bias-precession-nutation matrices (celestial frame to true equator of date).
    nutation_longitude is in radians; stationary_limit (10,) in degrees per day, 0 for bodies
    that are never retrograde.
    terrestrial: (2, 3) the observer's position (km) and z x r times the Earth's rotation rate (km/day).
    """
    count = jd_tdb.shape[0]
    rows = np.empty((ROW_COUNT, 2, 3))
    bodies = np.empty((BODY_COUNT, 2, 3))
    origins = np.empty((2, 2, 3))
    relative = np.empty((2, BODY_COUNT, 3))
    lengths = np.empty((2, BODY_COUNT))
    to_ecliptic = np.empty((3, 3))
    sin_lat = math.sin(lat_radians)
    cos_lat = math.cos(lat_radians)

    for n in range(count):
        matrix = npb[n]
        cos_e = math.cos(true_obliquity[n])
        sin_e = math.sin(true_obliquity[n])
        for j in range(3):
            to_ecliptic[0, j] = matrix[0, j]
            to_ecliptic[1, j] = cos_e * matrix[1, j] + sin_e * matrix[2, j]
            to_ecliptic[2, j] = -sin_e * matrix[1, j] + cos_e * matrix[2, j]

        # Evaluate every row at now minus its estimated light time.
        for r in range(ROW_COUNT):
            segment = segments[r]
            length = days_per_row[segment]
            offset = jd_tdb[n] - estimated_light_days[r] - start_jd
            index = min(int(offset // length), row_count[segment] - 1)
            x = 2.0 * (offset - index * length) / length - 1.0
            _chebyshev(coefficients, first_row[segment] + index, x, 2.0 / length, rows, r)

        for part in range(2):
            for axis in range(3):
                for b in range(BODY_COUNT):
                    bodies[b, part, axis] = rows[b, part, axis]
                # The Moon: the Earth-Moon barycentre plus its share of the geocentric Moon.
                bodies[_MOON, part, axis] = rows[_BARYCENTRE_AT_MOON, part, axis] + (1.0 - earth_share) * rows[_MOON_AT_MOON, part, axis]
                earth = rows[_BARYCENTRE_NOW, part, axis] - earth_share * rows[_MOON_NOW, part, axis]
                origins[0, part, axis] = earth
                origins[1, part, axis] = earth

        # The observer: sidereal time turns the terrestrial vectors into the
        # true equator of date, and the transposed matrix into the celestial frame.
        cos_g = math.cos(gast[n])
        sin_g = math.sin(gast[n])
        for part in range(2):
            tx = cos_g * terrestrial[part, 0] - sin_g * terrestrial[part, 1]
            ty = sin_g * terrestrial[part, 0] + cos_g * terrestrial[part, 1]
            tz = terrestrial[part, 2]
            for axis in range(3):
                origins[1, part, axis] += matrix[0, axis] * tx + matrix[1, axis] * ty + matrix[2, axis] * tz

        # Light time, solved to first order about each row's estimate.
        for o in range(2):
            for b in range(BODY_COUNT):
                rx = bodies[b, 0, 0] - origins[o, 0, 0]
                ry = bodies[b, 0, 1] - origins[o, 0, 1]
                rz = bodies[b, 0, 2] - origins[o, 0, 2]
                vx, vy, vz = bodies[b, 1, 0], bodies[b, 1, 1], bodies[b, 1, 2]
                d = math.sqrt(rx * rx + ry * ry + rz * rz)
                k = (rx * vx + ry * vy + rz * vz) / (d * light_day_km)
                tau0 = estimated_light_days[b]
                tau = (d / light_day_km + k * tau0) / (1.0 + k)
                shift = tau0 - tau
                rx += vx * shift
                ry += vy * shift
                rz += vz * shift
                relative[o, b, 0] = rx
                relative[o, b, 1] = ry
                relative[o, b, 2] = rz
                lengths[o, b] = math.sqrt(rx * rx + ry * ry + rz * rz)

        for o in range(2):
            # Unit vector and distance from the Sun (as seen, light-time corrected) to the observer.
            sun_distance = lengths[o, _SUN]
            ex = -relative[o, _SUN, 0] / sun_distance
            ey = -relative[o, _SUN, 1] / sun_distance
            ez = -relative[o, _SUN, 2] / sun_distance
            em = sun_distance / au_km
            vx = origins[o, 1, 0] / light_day_km
            vy = origins[o, 1, 1] / light_day_km
            vz = origins[o, 1, 2] / light_day_km
            inverse_lorentz = math.sqrt(1.0 - (vx * vx + vy * vy + vz * vz))
            gravity = SCHWARZSCHILD_RADIUS_OF_SUN_AU / em

            for b in range(BODY_COUNT):
                d = lengths[o, b]
                px = relative[o, b, 0] / d
                py = relative[o, b, 1] / d
                pz = relative[o, b, 2] / d
                if b != _SUN:
                    qx = relative[o, b, 0] - relative[o, _SUN, 0]
                    qy = relative[o, b, 1] - relative[o, _SUN, 1]
                    qz = relative[o, b, 2] - relative[o, _SUN, 2]
                    q = math.sqrt(qx * qx + qy * qy + qz * qz)
                    qx /= q
                    qy /= q
                    qz /= q
                    qdqpe = qx * (qx + ex) + qy * (qy + ey) + qz * (qz + ez)
                    w = gravity / max(qdqpe, DEFLECTION_LIMIT)
                    # e x q, then p x (e x q).
                    cx = ey * qz - ez * qy
                    cy = ez * qx - ex * qz
                    cz = ex * qy - ey * qx
                    px, py, pz = px + w * (py * cz - pz * cy), py + w * (pz * cx - px * cz), pz + w * (px * cy - py * cx)

                pdv = px * vx + py * vy + pz * vz
                w1 = 1.0 + pdv / (1.0 + inverse_lorentz)
                ax = px * inverse_lorentz + w1 * vx + gravity * (vx - pdv * px)
                ay = py * inverse_lorentz + w1 * vy + gravity * (vy - pdv * py)
                az = pz * inverse_lorentz + w1 * vz + gravity * (vz - pdv * pz)
                size = math.sqrt(ax * ax + ay * ay + az * az)
                ax /= size
                ay /= size
                az /= size

                if o == 0:
                    x = to_ecliptic[0, 0] * ax + to_ecliptic[0, 1] * ay + to_ecliptic[0, 2] * az
                    y = to_ecliptic[1, 0] * ax + to_ecliptic[1, 1] * ay + to_ecliptic[1, 2] * az
                    z = to_ecliptic[2, 0] * ax + to_ecliptic[2, 1] * ay + to_ecliptic[2, 2] * az
                    longitude[n, b] = (math.atan2(y, x) % _TWO_PI) * _DEGREES
                    latitude[n, b] = math.asin(min(max(z, -1.0), 1.0)) * _DEGREES
                    geocentric_distance[n, b] = d / au_km
                else:
                    x = matrix[0, 0] * ax + matrix[0, 1] * ay + matrix[0, 2] * az
                    y = matrix[1, 0] * ax + matrix[1, 1] * ay + matrix[1, 2] * az
                    z = matrix[2, 0] * ax + matrix[2, 1] * ay + matrix[2, 2] * az
                    right_ascension = math.atan2(y, x) % _TWO_PI
                    declination = math.asin(min(max(z, -1.0), 1.0))
                    ra[n, b] = right_ascension * _DEGREES
                    dec[n, b] = declination * _DEGREES
                    distance[n, b] = d / au_km
                    # Hour angle to azimuth (from north through east) and altitude.
                    hour_angle = gast[n] + lon_radians - right_ascension
                    cos_d = math.cos(declination)
                    sin_d = math.sin(declination)
                    hx = -math.cos(hour_angle) * cos_d * sin_lat + sin_d * cos_lat
                    hy = -math.sin(hour_angle) * cos_d
                    hz = math.cos(hour_angle) * cos_d * cos_lat + sin_d * sin_lat
                    azimuth[n, b] = (math.atan2(hy, hx) % _TWO_PI) * _DEGREES
                    altitude[n, b] = math.atan2(hz, math.sqrt(hx * hx + hy * hy)) * _DEGREES

        # Speed in longitude from the geocentric relative motion in the ecliptic of date.
        for b in range(BODY_COUNT):
            rx, ry, rz = relative[0, b, 0], relative[0, b, 1], relative[0, b, 2]
            vx = bodies[b, 1, 0] - origins[0, 1, 0]
            vy = bodies[b, 1, 1] - origins[0, 1, 1]
            vz = bodies[b, 1, 2] - origins[0, 1, 2]
            x = to_ecliptic[0, 0] * rx + to_ecliptic[0, 1] * ry + to_ecliptic[0, 2] * rz
            y = to_ecliptic[1, 0] * rx + to_ecliptic[1, 1] * ry + to_ecliptic[1, 2] * rz
            dx = to_ecliptic[0, 0] * vx + to_ecliptic[0, 1] * vy + to_ecliptic[0, 2] * vz
            dy = to_ecliptic[1, 0] * vx + to_ecliptic[1, 1] * vy + to_ecliptic[1, 2] * vz
            speed[n, b] = (x * dy - y * dx) / (x * x + y * y) * _DEGREES + precession_degrees_per_day

        # The Moon's phase angle: Sun-Moon-Earth.
        mx, my, mz = relative[0, _MOON, 0], relative[0, _MOON, 1], relative[0, _MOON, 2]
        sx = relative[0, _SUN, 0] - mx
        sy = relative[0, _SUN, 1] - my
        sz = relative[0, _SUN, 2] - mz
        cosine = -(sx * mx + sy * my + sz * mz) / (math.sqrt(sx * sx + sy * sy + sz * sz) * lengths[0, _MOON])
        angle = math.acos(min(max(cosine, -1.0), 1.0))
        phase_angle[n] = angle * _DEGREES
        illuminated_fraction[n] = (1.0 + math.cos(angle)) / 2.0
        elongation[n] = (longitude[n, _MOON] - longitude[n, _SUN]) % 360.0
        local_sidereal_time[n] = ((gast[n] + lon_radians) % _TWO_PI) * _DEGREES

        # The mean node on the mean ecliptic of date (Chapront's lunar theory),
        # plus the nutation in longitude to refer it to the true equinox.
        t = (jd_tt[n] - 2451545.0) / 36525.0
        node = 125.0445479 + t * (-1934.1362891 + t * (0.0020754 + t * (1.0 / 467441.0 - t / 60616000.0)))
        mean_node[n] = (node + nutation_longitude[n] * _DEGREES) % 360.0


        # The true node: the ascending node of the geocentric Moon's osculating
        # orbit, along z x h with h = r x v in the ecliptic of date.
        r0 = to_ecliptic[0, 0] * rows[_MOON_NOW, 0, 0] + to_ecliptic[0, 1] * rows[_MOON_NOW, 0, 1] + to_ecliptic[0, 2] * rows[_MOON_NOW, 0, 2]
        r1 = to_ecliptic[1, 0] * rows[_MOON_NOW, 0, 0] + to_ecliptic[1, 1] * rows[_MOON_NOW, 0, 1] + to_ecliptic[1, 2] * rows[_MOON_NOW, 0, 2]
        r2 = to_ecliptic[2, 0] * rows[_MOON_NOW, 0, 0] + to_ecliptic[2, 1] * rows[_MOON_NOW, 0, 1] + to_ecliptic[2, 2] * rows[_MOON_NOW, 0, 2]
        v0 = to_ecliptic[0, 0] * rows[_MOON_NOW, 1, 0] + to_ecliptic[0, 1] * rows[_MOON_NOW, 1, 1] + to_ecliptic[0, 2] * rows[_MOON_NOW, 1, 2]
        v1 = to_ecliptic[1, 0] * rows[_MOON_NOW, 1, 0] + to_ecliptic[1, 1] * rows[_MOON_NOW, 1, 1] + to_ecliptic[1, 2] * rows[_MOON_NOW, 1, 2]
        v2 = to_ecliptic[2, 0] * rows[_MOON_NOW, 1, 0] + to_ecliptic[2, 1] * rows[_MOON_NOW, 1, 1] + to_ecliptic[2, 2] * rows[_MOON_NOW, 1, 2]
        normal_x = r1 * v2 - r2 * v1
        normal_y = r2 * v0 - r0 * v2
        true_node[n] = (math.atan2(normal_x, -normal_y) % _TWO_PI) * _DEGREES

    motion_flags(speed, stationary_limit, retrograde, stationary)


@numba.njit(cache=True)
def motion_flags(speed, stationary_limit, retrograde, stationary):
    """Fill the retrograde and stationary flags (N, B) from speeds (N, B) in degrees per day.

    A body is stationary below its limit (B,); a zero limit, as for the Sun
    and the Moon, means the body is never retrograde or stationary.
    """
    for n in range(speed.shape[0]):
        for b in range(speed.shape[1]):
            limit = stationary_limit[b]
            retrograde[n, b] = limit > 0.0 and speed[n, b] < 0.0
            stationary[n, b] = limit > 0.0 and abs(speed[n, b]) < limit


@numba.njit(cache=True)
def tdb_and_nutation(jd_tt, dpsi, deps, table, table_start, tdb_amplitude_days, tdb_phase, tdb_rate, jd_tdb):
    """Add the tabulated IAU 2000A - 2000B difference to the nutation angles in place, and fill jd_tdb.

    table: (days, 4) rows of (difference in longitude, in obliquity, change of each to the next day).
    TDB - TT is taken as its largest periodic term, amplitude * sin(phase + rate * jd).
    """
    for n in range(jd_tt.shape[0]):
        position = jd_tt[n] - table_start
        day = int(math.floor(position))
        fraction = position - day
        dpsi[n] += table[day, 0] + table[day, 2] * fraction
        deps[n] += table[day, 1] + table[day, 3] * fraction
        jd_tdb[n] = jd_tt[n] + tdb_amplitude_days * math.sin(tdb_phase + tdb_rate * jd_tt[n])


@numba.njit(cache=True)
def signs_and_houses(longitude, cusps, sign, degree_in_sign, house):
    """Fill sign indexes, degrees into the sign and house numbers 1..12 for longitudes (N, B) in [0, 360).

    A longitude belongs to house k when it lies at or after cusp k and before
    cusp k + 1, going forward along the ecliptic (so across 0/360 too).
    With no cusps (an empty array), the houses are left untouched.
    """
    count, bodies = longitude.shape
    with_houses = cusps.shape[0] == count
    for n in range(count):
        for b in range(bodies):
            value = longitude[n, b]
            index = min(int(value // 30.0), 11)
            sign[n, b] = index
            degree_in_sign[n, b] = value - 30.0 * index
            if with_houses:
                found = 0
                for k in range(12):
                    start = cusps[n, k]
                    width = (cusps[n, (k + 1) % 12] - start) % 360.0
                    if (value - start) % 360.0 < width:
                        found = k + 1
                        break
                house[n, b] = found
