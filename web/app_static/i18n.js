// Interface text in English and Japanese. The language comes from the browser's and can
// be switched; the choice is kept in this browser. Scenario content is shown as written.

const TEXT = {
  en: {
    skip: "Skip to content", language: "Language", signOut: "Sign out", signedInAs: "Signed in as {name} ({role})",
    trainee: "trainee", trainer: "trainer",
    navPractice: "Practice", navSessions: "Sessions", navStats: "Statistics",
    signInTitle: "Sign in", signInHelp: "Open the sign-in link your trainer gave you. Each link works once; if yours has expired, ask your trainer for a new one.",
    signInWith: "Sign in with {name}",
    signingIn: "Signing you in…", signedOut: "You are signed out.",
    switchTitle: "Switch user?", switchQuestion: "You are signed in as {name}. Sign in as the link's user instead?",
    switchStay: "Stay signed in as {name}", switchGo: "Sign in as the link's user",
    switchDeclined: "The sign-in link was not used: you are still signed in as before.",
    scenariosTitle: "Choose a scenario", customer: "Customer", minutes: "{n} minutes", documents: "Documents",
    objectives: "Your objectives", start: "Start practising", starting: "Starting the session…",
    earlierTitle: "Your earlier sessions", noSessions: "No sessions yet.",
    colSession: "Session", colTrainee: "Trainee", colScenario: "Scenario", colStatus: "Status", colScore: "Score",
    colStarted: "Started", colActions: "Open",
    active: "active", completed: "completed", any: "any", review: "Review", continue: "Continue", watch: "Watch live",
    filterTrainee: "Trainee id", filterScenario: "Scenario", filterStatus: "Status", apply: "Show",
    chatTitle: "Conversation", you: "You", composerLabel: "Your reply", send: "Send", endSession: "End session",
    endConfirm: "End this session and see your report?", typing: "{name} is typing…",
    connecting: "Connecting…", connected: "Connected.", reconnecting: "Connection lost. Reconnecting… nothing you sent is lost.",
    reconnected: "Reconnected. The conversation is up to date.",
    watching: "You are watching this session live, read-only.",
    sessionEnded: "This session has ended.", readReport: "Read the report",
    waitingReport: "The session has ended; the report is being written…",
    feedback: "Feedback", score: "Score {n}/100", worked: "What worked", improve: "To improve", suggestions: "Suggestions",
    reportTitle: "Report", overall: "Overall score", criteria: "Criteria", weight: "weight {n}", strengths: "Strengths",
    improvements: "Improvements", quote: "You said: “{q}”", noReport: "No report yet: the session is still active.",
    transcriptTitle: "Transcript", download: "Download the transcript (Markdown)", backToList: "Back",
    statsTitle: "Scenario statistics", statSessions: "Sessions", statCompleted: "Completed", statCompletion: "Completion",
    statMean: "Mean score", statMedian: "Median score", statMissed: "Most-missed keywords", none: "none",
    docOpen: "Open", docDownload: "Download", docClose: "Close document", loading: "Loading…",
    notFound: "That page does not exist, or you may not see it.",
    navPeople: "People", peopleTitle: "Everyone", addTitle: "Add a person", importTitle: "Import people from a CSV file",
    userId: "User id", userIdHelp: "Letters, digits or . _ @ + - (up to 128), starting with a letter or digit.",
    displayName: "Display name (optional)", role: "Role", add: "Add",
    csvFile: "CSV file", import: "Import", importing: "Importing…",
    csvHelp: "A header row, then one person per row: user_id,display_name,role (display_name may be left out; role is trainee or trainer). At most 500 people per file. Either everyone in the file is added or, if any line has a problem, nobody is.",
    colUser: "User id", colName: "Name", colRole: "Role", colLastSignIn: "Last sign-in", never: "never", colManage: "Actions",
    enabled: "active", disabled: "disabled", erased: "erased", enable: "Enable", disable: "Disable",
    enableUser: "Enable {id}", disableUser: "Disable {id}", noPeople: "Nobody yet.",
    disableConfirm: "Disable {id}? They are signed out everywhere at once, and their sign-in links stop working.",
    disabledSay: "{id} is disabled.", enabledSay: "{id} is enabled again. Give them a new sign-in link.",
    addedSay: "{id} was added.", importedSay: "{n} people were added.", importedTitle: "Added {n} people: their sign-in links",
    signInLink: "Sign-in link", linkFor: "Sign-in link for {id}", linkTitle: "Sign-in link for {id}", linkLabel: "Link to give {id}",
    linkWorksOnce: "Each link works once, until {when}.", linkReplaces: "A person's earlier unused links no longer work.",
    linksForWaiting: "New links for everyone who has not signed in yet ({n})", linksTitle: "Sign-in links",
    allLinks: "Sign-in links ({n}), one user_id,link per line", copy: "Copy", copied: "Copied.",
    copyByHand: "Copying is not allowed here: select the text and copy it yourself.",
    lineProblem: "Line {line}: {detail}",
    err: {
      unauthorized: "You are not signed in, or your sign-in has expired. Ask your trainer for a new sign-in link.",
      sign_in_link_invalid: "This sign-in link does not work: it was used already or has expired. Ask your trainer for a new one.",
      csrf_failed: "The page is out of date. Reload it and try again.",
      forbidden: "Only trainers can see this page.",
      session_not_found: "That session does not exist, or it is not yours to see.",
      rate_limited: "You are sending messages too fast. Wait {s} seconds and send it again.",
      too_many_active_sessions: "You already have the most open sessions allowed. End one of them first.",
      session_completed: "This session has ended. Start a new one to keep practising.",
      read_only: "You are watching this session; only its trainee can write in it.",
      message_too_long: "Your message is too long. Shorten it and send it again.",
      empty_content: "Type something before sending.",
      llm_unavailable: "The customer (the AI model) is unavailable right now. Press Retry in a moment.",
      llm_timeout: "The customer (the AI model) took too long to answer. Press Retry.",
      llm_rate_limited: "The AI model is busy. Press Retry in a moment.",
      llm_model_not_found: "The AI model for the customer is not available on the server. Tell your trainer; Retry works once it is set up.",
      llm_budget_exceeded: "You have used today's practice allowance. Try again tomorrow.",
      reply_expired: "The reply took too long and was dropped. Press Retry.",
      idle_timeout: "The connection was closed after a long pause. It reconnects when you continue.",
      token_revoked: "Your sign-in was revoked. Ask your trainer for a new sign-in link.",
      signed_out: "This browser was signed out. Open a sign-in link to sign in again.",
      sign_in_expired: "Your sign-in has expired. Ask your trainer for a new sign-in link.",
      report_not_ready: "The report is not ready yet.",
      invalid_csv: "Nobody was added: fix the lines below in the file and import it again.",
      request_entity_too_large: "The file is too large to import at once: split it into smaller files.",
      user_exists: "There is already a user with that id.",
      user_disabled: "That user is disabled: enable them first.",
      user_not_found: "There is no such user.",
      cannot_disable_self: "You cannot disable yourself.",
      user_erased: "That person's data was erased: the account cannot be enabled again.",
      invalid_request: "Check what you entered: {detail}",
      network: "The server cannot be reached. Check your connection; the page keeps trying.",
      generic: "Something went wrong: {detail}",
    },
    retry: "Retry",
  },
  ja: {
    skip: "本文へ移動", language: "言語", signOut: "サインアウト", signedInAs: "{name}（{role}）でサインイン中",
    trainee: "研修生", trainer: "トレーナー",
    navPractice: "練習", navSessions: "セッション", navStats: "統計",
    signInTitle: "サインイン", signInHelp: "トレーナーから受け取ったサインインリンクを開いてください。各リンクは一度だけ使えます。期限が切れていたら、トレーナーに新しいリンクを頼んでください。",
    signInWith: "{name}でサインイン",
    signingIn: "サインインしています…", signedOut: "サインアウトしました。",
    switchTitle: "ユーザーを切り替えますか？", switchQuestion: "{name} としてサインインしています。このリンクのユーザーとしてサインインし直しますか？",
    switchStay: "{name} のままにする", switchGo: "リンクのユーザーとしてサインイン",
    switchDeclined: "サインインリンクは使われませんでした。これまでどおりサインインしています。",
    scenariosTitle: "シナリオを選ぶ", customer: "お客様", minutes: "{n}分", documents: "資料",
    objectives: "目標", start: "練習を始める", starting: "セッションを開始しています…",
    earlierTitle: "これまでのセッション", noSessions: "まだセッションはありません。",
    colSession: "セッション", colTrainee: "研修生", colScenario: "シナリオ", colStatus: "状態", colScore: "スコア",
    colStarted: "開始", colActions: "開く",
    active: "進行中", completed: "完了", any: "すべて", review: "振り返る", continue: "続ける", watch: "ライブで見る",
    filterTrainee: "研修生ID", filterScenario: "シナリオ", filterStatus: "状態", apply: "表示",
    chatTitle: "会話", you: "あなた", composerLabel: "返信", send: "送信", endSession: "セッションを終了",
    endConfirm: "セッションを終了してレポートを見ますか？", typing: "{name}が入力中…",
    connecting: "接続しています…", connected: "接続しました。", reconnecting: "接続が切れました。再接続しています…送信した内容は失われません。",
    reconnected: "再接続しました。会話は最新です。",
    watching: "このセッションをライブで閲覧中です（読み取り専用）。",
    sessionEnded: "このセッションは終了しました。", readReport: "レポートを読む",
    waitingReport: "セッションが終了しました。レポートを作成しています…",
    feedback: "フィードバック", score: "スコア {n}/100", worked: "良かった点", improve: "改善点", suggestions: "提案",
    reportTitle: "レポート", overall: "総合スコア", criteria: "評価基準", weight: "重み {n}", strengths: "強み",
    improvements: "改善点", quote: "あなたの発言：「{q}」", noReport: "セッションが進行中のため、レポートはまだありません。",
    transcriptTitle: "会話記録", download: "会話記録をダウンロード（Markdown）", backToList: "戻る",
    statsTitle: "シナリオ統計", statSessions: "セッション数", statCompleted: "完了数", statCompletion: "完了率",
    statMean: "平均スコア", statMedian: "中央値", statMissed: "よく抜けるキーワード", none: "なし",
    docOpen: "開く", docDownload: "ダウンロード", docClose: "資料を閉じる", loading: "読み込み中…",
    notFound: "このページは存在しないか、閲覧できません。",
    navPeople: "メンバー", peopleTitle: "全員", addTitle: "メンバーを追加", importTitle: "CSVファイルから一括追加",
    userId: "ユーザーID", userIdHelp: "英数字と . _ @ + -（128文字まで、先頭は英数字）。",
    displayName: "表示名（任意）", role: "役割", add: "追加",
    csvFile: "CSVファイル", import: "取り込む", importing: "取り込んでいます…",
    csvHelp: "1行目は見出し行、その後は1行に1人：user_id,display_name,role（display_name は省略可、role は trainee か trainer）。1ファイル500人まで。どこかの行に問題があれば、誰も追加されません。",
    colUser: "ユーザーID", colName: "名前", colRole: "役割", colLastSignIn: "最終サインイン", never: "なし", colManage: "操作",
    enabled: "有効", disabled: "無効", erased: "消去済み", enable: "有効にする", disable: "無効にする",
    enableUser: "{id} を有効にする", disableUser: "{id} を無効にする", noPeople: "まだ誰もいません。",
    disableConfirm: "{id} を無効にしますか？すぐにすべての場所でサインアウトされ、サインインリンクも使えなくなります。",
    disabledSay: "{id} を無効にしました。", enabledSay: "{id} を再び有効にしました。新しいサインインリンクを渡してください。",
    addedSay: "{id} を追加しました。", importedSay: "{n}人を追加しました。", importedTitle: "{n}人を追加しました：サインインリンク",
    signInLink: "サインインリンク", linkFor: "{id} のサインインリンク", linkTitle: "{id} のサインインリンク", linkLabel: "{id} に渡すリンク",
    linkWorksOnce: "各リンクは {when} まで、一度だけ使えます。", linkReplaces: "以前の未使用のリンクは使えなくなりました。",
    linksForWaiting: "まだサインインしていない全員に新しいリンク（{n}人）", linksTitle: "サインインリンク",
    allLinks: "サインインリンク（{n}件、1行に user_id,リンク）", copy: "コピー", copied: "コピーしました。",
    copyByHand: "ここではコピーできません。テキストを選択してコピーしてください。",
    lineProblem: "{line}行目：{detail}",
    err: {
      unauthorized: "サインインしていないか、サインインの期限が切れました。トレーナーに新しいサインインリンクを頼んでください。",
      sign_in_link_invalid: "このサインインリンクは使えません（使用済みか期限切れです）。トレーナーに新しいリンクを頼んでください。",
      csrf_failed: "ページが古くなっています。再読み込みしてからもう一度お試しください。",
      forbidden: "このページはトレーナーのみ閲覧できます。",
      session_not_found: "そのセッションは存在しないか、閲覧できません。",
      rate_limited: "送信が速すぎます。{s}秒待ってから再送信してください。",
      too_many_active_sessions: "開いているセッションが上限に達しています。先にどれかを終了してください。",
      session_completed: "このセッションは終了しました。練習を続けるには新しいセッションを始めてください。",
      read_only: "閲覧中のセッションです。書き込めるのは研修生本人だけです。",
      message_too_long: "メッセージが長すぎます。短くして再送信してください。",
      empty_content: "送信する前に何か入力してください。",
      llm_unavailable: "お客様役のAIが現在利用できません。少し待ってから「再試行」を押してください。",
      llm_timeout: "お客様役のAIの応答に時間がかかりすぎました。「再試行」を押してください。",
      llm_rate_limited: "AIが混み合っています。少し待ってから「再試行」を押してください。",
      llm_model_not_found: "お客様役のAIモデルがサーバーで利用できません。トレーナーに伝えてください。設定されれば「再試行」で続けられます。",
      llm_budget_exceeded: "本日の練習の上限に達しました。明日もう一度お試しください。",
      reply_expired: "返信に時間がかかりすぎたため破棄されました。「再試行」を押してください。",
      idle_timeout: "長時間操作がなかったため接続が閉じられました。続けると再接続します。",
      token_revoked: "サインインが取り消されました。トレーナーに新しいサインインリンクを頼んでください。",
      signed_out: "このブラウザはサインアウトしました。サインインリンクを開いてもう一度サインインしてください。",
      sign_in_expired: "サインインの期限が切れました。トレーナーに新しいサインインリンクを頼んでください。",
      report_not_ready: "レポートはまだできていません。",
      invalid_csv: "誰も追加されませんでした。ファイルの下記の行を直して、もう一度取り込んでください。",
      request_entity_too_large: "ファイルが大きすぎます。小さいファイルに分けてください。",
      user_exists: "そのIDのユーザーはすでにいます。",
      user_disabled: "そのユーザーは無効です。先に有効にしてください。",
      user_not_found: "そのユーザーはいません。",
      cannot_disable_self: "自分自身は無効にできません。",
      user_erased: "この人のデータは消去済みのため、アカウントを再び有効にはできません。",
      invalid_request: "入力内容を確認してください：{detail}",
      network: "サーバーに接続できません。接続を確認してください。ページは再試行を続けます。",
      generic: "問題が発生しました：{detail}",
    },
    retry: "再試行",
  },
};

const STORAGE_KEY = "chattrain.lang";
let current = pickLanguage();

function pickLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && TEXT[saved]) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = tag.toLowerCase().split("-")[0];
    if (TEXT[base]) return base;
  }
  return "en";
}

export function lang() {
  return current;
}

export function setLang(code) {
  if (!TEXT[code]) return;
  current = code;
  localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : `{${key}}`));
}

/** The interface text for `key` in the current language, with {placeholders} filled. */
export function t(key, values = {}) {
  const found = key.split(".").reduce((node, part) => (node ? node[part] : undefined), TEXT[current]);
  const text = found ?? key.split(".").reduce((node, part) => (node ? node[part] : undefined), TEXT.en) ?? key;
  return fill(text, values);
}

/** A server error (an API error body or an error frame) as a plain sentence. */
export function errorSentence(error) {
  const code = error.code || "generic";
  const table = TEXT[current].err;
  if (code in table) return fill(table[code], { s: error.retry_after_seconds ?? "", detail: error.detail || error.content || code });
  if (code.startsWith("llm_")) return fill(table.llm_unavailable, {});
  return fill(table.generic, { detail: error.detail || error.content || code });
}
