"""Connect the clone to a Discord bot: its token (stored encrypted, or read from an environment variable by the
process that runs the bots) and the servers where it may answer. The token is never shown back."""

import streamlit as st

from clonr import ClonrError
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
clone = current_clone()
st.header("Discord")
st.caption(f"Fans chat with {plain(clone.name)} in direct messages with its bot, and in your servers when they "
           "mention it or reply to it. Each Discord user is a fan with their own memory; allowances and prices for "
           "Discord users are on the Monetise page.")

with st.expander("How to make the bot (once)"):
    st.markdown("""1. In the [Discord developer portal](https://discord.com/developers/applications), create an
   application, open **Bot**, turn on **Message Content Intent**, and copy the token (**Reset Token**).
2. Invite it to your server: **OAuth2 → URL Generator**, scopes `bot` and `applications.commands`, permissions
   *Send Messages* and *Read Message History*; open the URL it makes.
3. Paste the token below, with the ids of the servers where it may answer (Discord: right-click the server →
   *Copy Server ID*, with Developer Mode on).
4. Run `clonr discord` on the server: it hosts the bots of every connected clone.""")

connected = {c.id: bot for c, bot in app.discord.bots()}
bot = connected.get(clone.id)
if bot is not None:
    where = f"the environment variable {bot.token_env}" if bot.token_env else "Clonr's database, encrypted"
    servers = ", ".join(str(g) for g in bot.guild_ids) or "none (direct messages only)"
    joined = ", ".join(str(c) for c in bot.joined_channels)
    st.success(f"Connected. The token is read from {where}. Servers: {servers}."
               + (f" Joined channels: {joined} (talkativeness {bot.talkativeness:.2f})." if joined else "")
               + (" Replies also come as audio." if bot.speaks else ""))
    if not clone.published:
        st.warning("The clone is a draft: its bot starts once it is published (step 7).")

with st.form("discord_connect", clear_on_submit=True):
    token = st.text_input("Bot token", type="password", key="discord_token",
                          help="Stored encrypted with CLONR_SECRET_KEY; never shown again.")
    token_env = st.text_input("…or the environment variable that holds it", key="discord_token_env",
                              placeholder="ADA_DISCORD_TOKEN")
    guilds = st.text_input("Servers where it may answer when mentioned (ids, comma-separated)", key="discord_guilds")
    channels = st.text_input("Channels where it joins the conversation (ids, comma-separated)",
                             key="discord_channels", help="There it also speaks unasked, at its talkativeness.")
    talkativeness = st.slider("Talkativeness in those channels", 0.0, 1.0, 0.3, 0.05, key="discord_talkativeness")
    speaks = st.checkbox("Also send each reply as audio, in the clone's voice (Voice page)", key="discord_speaks")
    save = st.form_submit_button("Connect", type="primary")


def ids_in(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


if save:
    try:
        server_ids, channel_ids = ids_in(guilds), ids_in(channels)
    except ValueError:
        st.error("Server and channel ids are numbers, separated by commas.")
        st.stop()
    try:
        app.discord.connect(clone.id, token=token.strip() or None, token_env=token_env.strip() or None,
                            guild_ids=server_ids, joined_channels=channel_ids, talkativeness=talkativeness,
                            speaks=speaks)
        st.rerun()
    except ClonrError as exc:
        st.error(str(exc))

if bot is not None and st.button("Disconnect the bot", key="discord_disconnect"):
    app.discord.disconnect(clone.id)
    st.rerun()
