"""Usage: who used what, in charts. Administrators see everyone; others their own use and their stores'."""

import altair as alt
import pandas as pd
import streamlit as st

from core.records import Channel
from ui import periods, tables
from ui.session import signed_in

wb, me = signed_in()

st.title("Usage")
left, middle, right, through, keyed = st.columns([3, 2, 2, 2, 2])
start = periods.since(left, key="usage_period")
everything = wb.usage.report(me, since=start)  # the choices below: who and what this period holds
users = sorted(set(everything.events["user"]))
stores = sorted({s for s in everything.events["store"] if s})
who = middle.selectbox("User", ["Everyone", *users], key="usage_user")
where = right.selectbox("Store", ["All stores", *stores], key="usage_store")
channel = through.selectbox("Through", ["Everything", *(c.value for c in Channel)], key="usage_channel")
named = {k.id: f"{k.name} ({k.prefix}…)" for k in (wb.keys.all(me) if me.is_admin else wb.keys.mine(me))}
keys = ["Any key", *sorted({k for k in everything.events["key"] if k})]
key = keyed.selectbox("API key", keys, format_func=lambda k: named.get(k, k), key="usage_key")
report = wb.usage.report(
    me,
    since=start,
    user=None if who == "Everyone" else who,
    store=None if where == "All stores" else where,
    channel=None if channel == "Everything" else channel,
    key=None if key == "Any key" else key,
)
if limited := wb.usage.limits(me):  # each user's and key's use of their stores' daily limits and monthly budgets
    st.subheader("Use against limits")
    st.dataframe(tables.limits(limited), hide_index=True, width="stretch", key="usage_limits",
                 column_config={"Share used": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0)})  # fmt: skip
if report.events.empty:
    st.info("No use in this period yet: searches, answers and uploads appear here as they happen.")
    st.stop()

table = report.table()
a, b, c, d = st.columns(4)
a.metric("Requests", f"{len(table):,}")
b.metric("Tokens", f"{int(table['tokens'].sum()):,}")
c.metric("Cost", f"${table['cost'].sum():,.4f}")
d.metric("Failed", f"{int((~table['ok']).sum()):,}")


DAY = alt.X("yearmonthdate(day):O", title=None, axis=alt.Axis(labelAngle=0))  # one labelled bar per day


def bars(frame: pd.DataFrame, x: str | alt.X, y: str, colour: str | None, title: str | None) -> alt.Chart:
    encoding = {
        "x": x if isinstance(x, alt.X) else alt.X(x, title=None),
        "y": alt.Y(y, title=title),
        "tooltip": list(frame.columns),
    }
    if colour:
        encoding["color"] = alt.Color(colour, title=None)
    return alt.Chart(frame).mark_bar().encode(**encoding).properties(height=220)


one, two = st.columns(2)
with one:
    st.subheader("Requests per day")
    st.altair_chart(bars(report.requests_per_day(), DAY, "requests:Q", "kind:N", "requests"), width="stretch")
with two:
    st.subheader("Tokens per day, by model")
    st.altair_chart(bars(report.tokens_and_cost_per_day(), DAY, "tokens:Q", "model:N", "tokens"), width="stretch")
three, four = st.columns(2)
with three:
    st.subheader("Latency by model (p50, p95)")
    latency = report.latency().melt(
        id_vars=["model", "kind", "requests"], value_vars=["p50_ms", "p95_ms"], var_name="percentile", value_name="ms"
    )
    st.altair_chart(
        bars(latency, "model:N", "ms:Q", "percentile:N", "milliseconds").encode(xOffset="percentile:N"), width="stretch"
    )
with four:
    st.subheader("Ingested per day")
    volume = report.ingest_volume()
    if volume.empty:
        st.caption("No uploads in this period.")
    else:
        st.altair_chart(bars(volume, DAY, "chunks:Q", None, "chunks written"), width="stretch")
five, six = st.columns(2)
with five:
    st.subheader("Top users")
    st.altair_chart(
        bars(report.top_users(), "requests:Q", "user:N", None, None).encode(y=alt.Y("user:N", sort="-x", title=None)),
        width="stretch",
    )
with six:
    st.subheader("Top stores")
    top = report.top_stores()
    if top.empty:
        st.caption("No store was used in this period.")
    else:
        st.altair_chart(
            bars(top, "requests:Q", "store:N", None, None).encode(y=alt.Y("store:N", sort="-x", title=None)),
            width="stretch",
        )

st.download_button(
    "Download the usage table (CSV)", table.to_csv(index=False), file_name="usage.csv", mime="text/csv", key="usage_csv"
)
